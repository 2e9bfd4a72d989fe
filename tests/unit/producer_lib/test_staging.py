"""Staging without a network: the shared-directory stager, source handling, hostile names."""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from producer_lib.dir_staging import DirStager
from producer_lib.errors import StagingError
from producer_lib.staging import (
    CHUNK_BYTES,
    filename_of,
    stager_from_uri,
)
from schemas import BlobRef, staging_scope

CONTENT = b"passport bytes " * 1000
SHA = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def stager(tmp_path: Path) -> DirStager:
    return DirStager(tmp_path / "staging")


def _only_file(directory: Path) -> Path:
    (found,) = list(directory.iterdir())
    return found


@pytest.mark.parametrize(
    "make_source",
    [
        lambda p: CONTENT,
        lambda p: bytearray(CONTENT),
        lambda p: memoryview(CONTENT),
        lambda p: io.BytesIO(CONTENT),
        str,
        lambda p: p,
    ],
    ids=["bytes", "bytearray", "memoryview", "file", "str-path", "path"],
)
def test_every_source_kind_stages_the_same_blob(
    stager: DirStager, tmp_path: Path, make_source: object
) -> None:
    source_path = tmp_path / "scan.pdf"
    source_path.write_bytes(CONTENT)

    ref = stager.stage(make_source(source_path))  # type: ignore[operator]

    staged = _only_file(tmp_path / "staging")
    assert ref.uri == f"file://{staged}"
    assert ref.size == len(CONTENT)
    assert ref.sha256 == SHA
    assert staged.read_bytes() == CONTENT
    assert len(staged.name) == 32 and int(staged.name, 16) >= 0


def test_file_and_directory_permissions_are_restrictive(stager: DirStager, tmp_path: Path) -> None:
    stager.stage(b"x")
    directory = tmp_path / "staging"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(_only_file(directory).stat().st_mode) == 0o640


def test_large_source_is_read_in_chunks(stager: DirStager) -> None:
    class CountingReader(io.RawIOBase):
        def __init__(self, total: int) -> None:
            self.left = total
            self.largest = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            self.largest = max(self.largest, size)
            n = min(self.left, size if size > 0 else self.left)
            self.left -= n
            return b"a" * n

    reader = CountingReader(5 * CHUNK_BYTES + 3)
    ref = stager.stage(reader)  # type: ignore[arg-type]
    assert ref.size == 5 * CHUNK_BYTES + 3
    assert reader.largest == CHUNK_BYTES
    assert ref.sha256 == hashlib.sha256(b"a" * (5 * CHUNK_BYTES + 3)).hexdigest()


def test_a_failing_source_leaves_nothing_behind(stager: DirStager, tmp_path: Path) -> None:
    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise OSError(5, "Input/output error")

    class Broken:
        def __init__(self) -> None:
            self.chunks_iter = broken()

        def read(self, _size: int) -> bytes:
            return next(self.chunks_iter)

    with pytest.raises(StagingError, match="Input/output error"):
        stager.stage(Broken())  # type: ignore[arg-type]
    assert list((tmp_path / "staging").iterdir()) == []


def test_text_mode_files_are_refused(stager: DirStager, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="binary mode"):
        stager.stage(io.StringIO("text"))  # type: ignore[arg-type]
    assert list((tmp_path / "staging").iterdir()) == []


def test_hostile_filenames_never_reach_the_staged_name(stager: DirStager, tmp_path: Path) -> None:
    hostile = "../../etc/passwd\x00\n.jpg"
    ref = stager.stage(b"x", filename=hostile)
    staged = _only_file(tmp_path / "staging")
    assert staged.parent == tmp_path / "staging"
    assert ref.filename == "passwd.jpg"
    assert "passwd" not in ref.uri


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("C:\\Users\\me\\scan.PDF", "scan.PDF"),
        ("/tmp/a/b/photo.jpg", "photo.jpg"),
        ("bad\x1b[31mname.png", "bad[31mname.png"),
        ("x" * 300 + ".pdf", "x" * 251 + ".pdf"),
        ("", None),
        ("dir/", None),
    ],
)
def test_filename_of(raw: str, expected: str | None) -> None:
    assert filename_of(b"", raw) == expected


def test_filename_comes_from_the_file_object(tmp_path: Path) -> None:
    path = tmp_path / "id card.png"
    path.write_bytes(b"x")
    with open(path, "rb") as handle:
        assert filename_of(handle, None) == "id card.png"
    assert filename_of(path, None) == "id card.png"
    assert filename_of(io.BytesIO(b""), None) is None


class _Upload(io.BytesIO):
    content_type = "image/JPEG"


@pytest.mark.parametrize(
    ("source", "explicit", "name", "expected"),
    [
        (b"x", "application/pdf", None, "application/pdf"),
        (_Upload(b"x"), None, None, "image/jpeg"),
        (b"x", None, "a.png", "image/png"),
        (b"x", "text/html\r\nX-Evil: 1", "a.pdf", "application/pdf"),
        (b"x", None, "noext", "application/octet-stream"),
    ],
)
def test_the_staged_content_type(
    stager: DirStager, source: object, explicit: str | None, name: str | None, expected: str
) -> None:
    # Explicit first, then the upload's own (Django), then the name (upload_engine.mime).
    ref = stager.stage(source, content_type=explicit, filename=name)  # type: ignore[arg-type]
    assert ref.content_type == expected


def test_delete_removes_own_blobs_only(stager: DirStager, tmp_path: Path) -> None:
    ref = stager.stage(b"mine")
    outside = tmp_path / "victim"
    outside.write_bytes(b"keep")
    forged = BlobRef(uri=f"file://{outside}", size=4, sha256="0" * 64, content_type="a/b")
    traversal = BlobRef(
        uri=f"file://{tmp_path}/staging/../victim", size=4, sha256="0" * 64, content_type="a/b"
    )

    stager.delete(forged)
    stager.delete(traversal)
    stager.delete(ref)
    stager.delete(ref)  # twice is fine

    assert outside.read_bytes() == b"keep"
    assert list((tmp_path / "staging").iterdir()) == []


@pytest.mark.parametrize(
    "uri",
    ["file:///tmp/with space/", "file://relative/dir", "http://x/", "s3://UPPER/x/", "s3://b/"],
)
def test_bad_staging_roots_are_refused(uri: str) -> None:
    with pytest.raises(ValueError, match="staging"):
        stager_from_uri(uri)


def test_staging_roots() -> None:
    assert (
        stager_from_uri("s3://staging-bucket/uploads/in").root == "s3://staging-bucket/uploads/in/"
    )
    assert stager_from_uri("s3://staging-bucket").root == "s3://staging-bucket/"
    assert stager_from_uri("file:///srv/staging/").root == "file:///srv/staging/"


def test_umask_does_not_loosen_or_tighten_the_mode(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        DirStager(tmp_path / "s", file_mode=0o640).stage(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(_only_file(tmp_path / "s").stat().st_mode) == 0o640


def test_a_users_blob_is_staged_in_their_scope_and_deleted_from_there(
    stager: DirStager, tmp_path: Path
) -> None:
    ref = stager.stage(b"mine", user_id=7)  # an int, as request.user.pk is
    path = Path(ref.uri.removeprefix("file://"))
    assert path.parent == tmp_path / "staging" / staging_scope("7")
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stager.stage(b"also mine", user_id="7").uri.startswith(f"file://{path.parent}/")
    stager.delete(ref)
    assert not path.exists()


def test_an_s3_blob_is_staged_in_the_users_scope(tmp_path: Path) -> None:
    from producer_lib.s3_staging import S3Stager

    class _Client:
        def __init__(self) -> None:
            self.keys: list[str] = []

        def put_object(self, **params: object) -> None:
            self.keys.append(str(params["Key"]))

    client = _Client()
    ref = S3Stager("stage-bucket", "in/", client=client).stage(b"x", user_id="u-1")  # type: ignore[arg-type]
    (key,) = client.keys
    assert ref.uri == f"s3://stage-bucket/{key}"
    assert key.startswith(f"in/{staging_scope('u-1')}/") and len(key) == 3 + 17 + 1 + 32

"""Hostile input: nothing outside the allow-list is read, nothing bad is written."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from schemas import BlobRef
from schemas import FileFailureCode as C
from tests.unit.engine_support import Env, opaque_bytes, sha
from upload_engine import LocalBlob

DATA = b"\xff\xd8\xff\xe0 jpeg bytes"


def ref_to(uri: str, data: bytes = DATA) -> BlobRef:
    return BlobRef(uri=uri, size=len(data), sha256=sha(data), content_type="image/jpeg")


def refused(env: Env, source: BlobRef | LocalBlob, code: C, **job_overrides: str) -> None:
    client = env.flaky()
    outcome = env.engine(client).upload(env.job({"doc": source}, **job_overrides))
    assert outcome.objects == {}
    assert outcome.failures["doc"].code is code
    assert env.keys() == []
    for write in ("put_object", "create_multipart_upload", "copy_object"):
        assert write not in client.calls


def test_etc_passwd(env: Env) -> None:
    refused(env, ref_to("file:///etc/passwd"), C.SOURCE_NOT_ALLOWED)


def test_traversal_out_of_the_root(env: Env) -> None:
    refused(env, ref_to(f"file://{env.root}/../../etc/passwd"), C.SOURCE_NOT_ALLOWED)
    refused(env, ref_to(f"file://{env.root}/%2e%2e/%2e%2e/etc/passwd"), C.SOURCE_NOT_ALLOWED)


def test_symlink_inside_the_root_pointing_outside(env: Env, tmp_path: Path) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(DATA)
    (env.root / "innocent.jpg").symlink_to(secret)
    refused(env, ref_to(f"file://{env.root}/innocent.jpg"), C.SOURCE_NOT_ALLOWED)


def test_symlinked_directory_pointing_outside(env: Env, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.jpg").write_bytes(DATA)
    (env.root / "dir").symlink_to(outside)
    refused(env, ref_to(f"file://{env.root}/dir/a.jpg"), C.SOURCE_NOT_ALLOWED)


def test_symlink_to_a_device(env: Env) -> None:
    (env.root / "zero.jpg").symlink_to("/dev/zero")
    refused(env, ref_to(f"file://{env.root}/zero.jpg"), C.SOURCE_NOT_ALLOWED)


def test_symlink_to_proc(env: Env) -> None:
    (env.root / "environ.jpg").symlink_to("/proc/self/environ")
    refused(env, ref_to(f"file://{env.root}/environ.jpg"), C.SOURCE_NOT_ALLOWED)


def test_fifo_is_refused_without_blocking(env: Env) -> None:
    os.mkfifo(env.root / "pipe.jpg")
    refused(env, ref_to(f"file://{env.root}/pipe.jpg"), C.SOURCE_NOT_ALLOWED)


def test_directory_is_refused(env: Env) -> None:
    (env.root / "sub").mkdir()
    refused(env, ref_to(f"file://{env.root}/sub"), C.SOURCE_NOT_ALLOWED)


def test_the_root_itself_is_refused(env: Env) -> None:
    refused(env, ref_to(f"file://{env.root}/"), C.SOURCE_NOT_ALLOWED)


def test_symlink_within_the_root_is_followed(env: Env) -> None:
    good = env.stage_file("real.jpg", DATA)
    (env.root / "alias.jpg").symlink_to(env.root / "real.jpg")
    outcome = env.engine().upload(
        env.job({"doc": good.model_copy(update={"uri": f"file://{env.root}/alias.jpg"})})
    )
    assert list(outcome.objects) == ["doc"]


@pytest.mark.parametrize("key", ["incoming/../private/x", "incoming//x", "incoming/./x"])
def test_s3_dot_segments(env: Env, key: str) -> None:
    env.client.put_object(Bucket=env.stage, Key="private/x", Body=DATA)
    refused(env, ref_to(f"s3://{env.stage}/{key}"), C.SOURCE_NOT_ALLOWED)


def test_s3_outside_the_allowlist(env: Env) -> None:
    env.client.put_object(Bucket=env.stage, Key="private/x", Body=DATA)
    refused(env, ref_to(f"s3://{env.stage}/private/x"), C.SOURCE_NOT_ALLOWED)
    refused(env, ref_to(f"s3://{env.dest}/incoming/x"), C.SOURCE_NOT_ALLOWED)


@pytest.mark.parametrize(
    ("field", "value"),
    [("file_category", "../kyc"), ("user_id", "1/../../x"), ("user_id", "a b")],
)
def test_hostile_job_names_write_nothing(env: Env, field: str, value: str) -> None:
    # Jobs are validated before they reach the engine; if one is not, it still writes nothing.
    refused(env, env.stage_file("a.jpg", DATA), C.INTERNAL_ERROR, **{field: value})


def test_hostile_file_type_writes_nothing(env: Env) -> None:
    client = env.flaky()
    outcome = env.engine(client).upload(env.job({"../../etc": env.stage_file("a.jpg", DATA)}))
    assert outcome.failures["../../etc"].code is C.INTERNAL_ERROR
    assert env.keys() == []
    assert "put_object" not in client.calls


def test_hostile_filename_only_gives_an_extension(env: Env) -> None:
    blob = LocalBlob(io.BytesIO(DATA), "image/jpeg", filename="../../../etc/passwd.JPG")
    outcome = env.engine().upload(env.job({"doc": blob}))
    assert env.keys() == [f"kyc/user_u1/doc/{sha(DATA)}.jpg"]
    assert outcome.objects["doc"].key == env.keys()[0]


@pytest.mark.parametrize("multipart", [False, True])
def test_corrupted_blobs_never_appear(env: Env, multipart: bool) -> None:
    size = 11 * 1024 * 1024 if multipart else 1024
    data = opaque_bytes(size)
    corrupted = bytearray(data)
    corrupted[size // 2] ^= 0xFF
    ref = env.stage_file("a.jpg", bytes(corrupted), claim=data)
    engine = env.engine(
        multipart_threshold_bytes=5 * 1024 * 1024, multipart_part_bytes=5 * 1024 * 1024
    )
    outcome = engine.upload(env.job({"doc": ref}))
    assert outcome.failures["doc"].code is C.CHECKSUM_MISMATCH
    assert env.keys() == []
    assert env.client.list_multipart_uploads(Bucket=env.dest).get("Uploads", []) == []


def test_truncated_blob_never_appears_after_multipart(env: Env) -> None:
    data = opaque_bytes(11 * 1024 * 1024)
    ref = env.stage_file("a.jpg", data[:-1], claim=data)
    engine = env.engine(
        multipart_threshold_bytes=5 * 1024 * 1024, multipart_part_bytes=5 * 1024 * 1024
    )
    # The file's size is checked on open: nothing is even read.
    assert engine.upload(env.job({"doc": ref})).failures["doc"].code is C.SIZE_MISMATCH
    assert env.keys() == []


def test_failure_log_is_safe(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    hostile = "evil\nINJECTED"
    env.engine().upload(env.job({"doc": ref_to("file:///etc/passwd")}, request_id=hostile))
    [record] = [r for r in caplog.records if "file failed" in r.getMessage()]
    line = record.getMessage()
    assert "\n" not in line
    assert "source_not_allowed" in line
    assert "file_type='doc'" in line
    assert "root:" not in line

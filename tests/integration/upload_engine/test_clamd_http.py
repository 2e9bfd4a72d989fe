"""The content gate against a real clamd (Debian's clamav-daemon, started by the harness
with the tests' own signatures) and the stack's S3 endpoint over HTTP."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas import BlobRef, ScanVerdict
from schemas import FileFailureCode as C
from tests import samples
from tests.samples import clamd_databases
from upload_engine import LocalBlob, UploadEngine, UploadJob
from upload_stream_cli.devstack.clamd import ClamdServer

MiB = 1024 * 1024
PARTS = {"multipart_threshold_bytes": 5 * MiB, "multipart_part_bytes": 5 * MiB}


def job(bucket: str, files: dict[str, Any], request_id: str = "gate-1") -> UploadJob:
    return UploadJob(
        request_id=request_id, user_id="42", file_category="kyc", bucket=bucket,
        files=files, max_workers=4,
    )  # fmt: skip


def stage(tmp_path: Path, name: str, data: bytes, content_type: str) -> BlobRef:
    path = tmp_path / "staging" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return BlobRef(
        uri=f"file://{path}", size=len(data), sha256=hashlib.sha256(data).hexdigest(),
        content_type=content_type, filename=name,
    )  # fmt: skip


def keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


@pytest.fixture
def scanning(
    engine_on_stack: Callable[..., UploadEngine], tmp_path: Path
) -> Callable[..., UploadEngine]:
    def make(address: str, **overrides: Any) -> UploadEngine:
        roots = [f"file://{tmp_path}/staging/"]
        return engine_on_stack(staging_allowlist=roots, clamd_address=address, **overrides)

    return make


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_eicar_staged_as_a_jpeg_is_malware_and_never_lands(
    scanning: Callable[..., UploadEngine], clamd: ClamdServer, make_bucket: Callable[..., str],
    s3: Any, tmp_path: Path, transport: str,
) -> None:  # fmt: skip
    bucket = make_bucket("gate")
    address = clamd.unix_address if transport == "unix" else clamd.tcp_address
    ref = stage(tmp_path, "selfie.jpg", samples.eicar(), "image/jpeg")
    outcome = scanning(address).upload(job(bucket, {"selfie": ref}))
    failure = outcome.failures["selfie"]
    assert (failure.code, failure.retryable) == (C.MALWARE_DETECTED, False)
    assert "Test.EICAR." in failure.message  # the whole-file or the body signature
    assert keys(s3, bucket) == []


@pytest.mark.parametrize(
    ("make", "declared"),
    [(samples.png_bytes, "application/pdf"), (samples.elf_bytes, "image/jpeg")],
)
def test_bytes_that_contradict_their_type_are_a_mismatch(
    scanning: Callable[..., UploadEngine], clamd: ClamdServer, make_bucket: Callable[..., str],
    s3: Any, tmp_path: Path, make: Callable[[], bytes], declared: str,
) -> None:  # fmt: skip
    bucket = make_bucket("gate")
    ref = stage(tmp_path, "doc.bin", make(), declared)
    failure = scanning(clamd.unix_address).upload(job(bucket, {"doc": ref})).failures["doc"]
    assert (failure.code, failure.retryable) == (C.CONTENT_TYPE_MISMATCH, False)
    assert keys(s3, bucket) == []


def test_clean_documents_pass_and_say_what_was_checked(
    scanning: Callable[..., UploadEngine], clamd: ClamdServer, make_bucket: Callable[..., str],
    s3: Any, tmp_path: Path,
) -> None:  # fmt: skip
    bucket = make_bucket("gate")
    files: dict[str, Any] = {
        "passport": stage(tmp_path, "passport.pdf", samples.pdf_bytes(), "application/pdf"),
        "id_front": stage(tmp_path, "front.jpg", samples.jpeg_bytes(), "image/jpeg"),
        "id_back": LocalBlob(io.BytesIO(samples.png_bytes()), "image/png", "back.png"),
        "selfie_video": stage(tmp_path, "selfie.mp4", samples.mp4_bytes(), "video/mp4"),
    }
    outcome = scanning(clamd.unix_address).upload(job(bucket, files))
    assert outcome.failures == {}
    detected = {t: o.detected_content_type for t, o in outcome.objects.items()}
    assert detected == {
        "passport": "application/pdf", "id_front": "image/jpeg", "id_back": "image/png",
        "selfie_video": "video/mp4",
    }  # fmt: skip
    for stored in outcome.objects.values():
        assert stored.scan is not None
        assert stored.scan.verdict is ScanVerdict.CLEAN
        assert stored.scan.scanner.startswith("ClamAV ")
    assert len(keys(s3, bucket)) == 4


def test_clamd_stopped_mid_stream_is_scan_failed_and_a_replay_succeeds_after_restart(
    scanning: Callable[..., UploadEngine], clamd: ClamdServer, make_bucket: Callable[..., str],
    s3: Any, tmp_path: Path,
) -> None:  # fmt: skip
    bucket = make_bucket("gate")
    data = samples.pdf_bytes() + bytes(11 * MiB)
    ref = stage(tmp_path, "big.pdf", data, "application/pdf")
    engine = scanning(clamd.unix_address, **PARTS)
    parts_sent: list[int] = []

    def stop_clamd_at_first_part(**_kwargs: Any) -> None:
        parts_sent.append(1)
        if len(parts_sent) == 1:
            clamd.stop()  # clamd has had the first part; the rest has nowhere to go

    engine.client.meta.events.register("before-call.s3.UploadPart", stop_clamd_at_first_part)
    failure = engine.upload(job(bucket, {"doc": ref})).failures["doc"]
    assert (failure.code, failure.retryable) == (C.SCAN_FAILED, True)
    assert keys(s3, bucket) == []
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

    clamd.start()
    replay = engine.upload(job(bucket, {"doc": ref}, request_id="gate-1-replay"))
    assert replay.failures == {}
    assert replay.objects["doc"].scan is not None
    assert keys(s3, bucket) == [replay.objects["doc"].key]


@pytest.fixture
def small_clamd() -> Iterator[ClamdServer]:
    """A second clamd whose StreamMaxLength is 1 MiB."""
    with ClamdServer(clamd_databases(), stream_max_bytes=MiB) as server:
        yield server


def test_a_file_above_stream_max_length_is_scan_failed_never_clean(
    scanning: Callable[..., UploadEngine], clamd: ClamdServer, small_clamd: ClamdServer,
    make_bucket: Callable[..., str], s3: Any, tmp_path: Path,
) -> None:  # fmt: skip
    bucket = make_bucket("gate")
    ref = stage(tmp_path, "scan.pdf", samples.pdf_bytes() + bytes(2 * MiB), "application/pdf")
    failure = scanning(small_clamd.unix_address).upload(job(bucket, {"doc": ref})).failures["doc"]
    assert (failure.code, failure.retryable) == (C.SCAN_FAILED, True)
    assert "StreamMaxLength" in failure.message
    assert keys(s3, bucket) == []


def test_malware_at_the_end_of_a_multipart_file_aborts_it_and_leaves_no_parts(
    scanning: Callable[..., UploadEngine], clamd: ClamdServer, make_bucket: Callable[..., str],
    s3: Any, tmp_path: Path,
) -> None:  # fmt: skip
    bucket = make_bucket("gate")
    data = samples.pdf_bytes() + bytes(11 * MiB) + samples.eicar()
    ref = stage(tmp_path, "big.pdf", data, "application/pdf")
    engine = scanning(clamd.unix_address, **PARTS)
    upload_ids: list[str] = []
    engine.client.meta.events.register(
        "after-call.s3.CreateMultipartUpload",
        lambda parsed, **_: upload_ids.append(parsed["UploadId"]),
    )
    failure = engine.upload(job(bucket, {"doc": ref})).failures["doc"]
    assert (failure.code, failure.retryable) == (C.MALWARE_DETECTED, False)
    assert "Test.EICAR.Anywhere.UNOFFICIAL" in failure.message
    assert len(upload_ids) == 1  # the parts were on their way while clamd read them
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.list_parts(Bucket=bucket, Key=ref.filename or "", UploadId=upload_ids[0])
    assert keys(s3, bucket) == []

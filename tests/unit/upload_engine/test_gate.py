"""The content gate inside the engine: the type rule, and clamd's answers (a scripted clamd
on a unix socket; the real one is in tests/integration/upload_engine/test_clamd_http.py)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from schemas import FileFailureCode as C
from schemas import ScanVerdict, StoredObject
from tests import samples
from tests.unit.engine_support import Env, env_fixture, moto_client  # noqa: F401
from tests.unit.scripted_clamd import scripted_clamd
from upload_engine import LocalBlob
from upload_engine.clamd import Outcome, parse_instream_reply
from upload_engine.content_type import HEAD_BYTES, TypeChecker, contradicts
from upload_engine.gate import split_version

MiB = 1024 * 1024


@pytest.mark.parametrize(
    ("make", "declared"),
    [
        (samples.png_bytes, "application/pdf"),
        (samples.elf_bytes, "image/jpeg"),
        (samples.pe_bytes, "image/jpeg"),
        (samples.html_bytes, "image/png"),
        (samples.script_bytes, "application/pdf"),
        (samples.jpeg_bytes, "image/png"),
        (
            samples.zip_bytes,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (samples.elf_bytes, "application/octet-stream"),
        (samples.html_bytes, "text/plain"),
    ],
)
def test_contradicting_bytes_are_a_mismatch(make: Callable[[], bytes], declared: str) -> None:
    data = make()
    detected = TypeChecker().detect(data)
    assert contradicts(declared, detected, data), (declared, detected)


@pytest.mark.parametrize(
    ("make", "declared"),
    [
        (samples.png_bytes, "image/png"),
        (samples.jpeg_bytes, "image/jpeg"),
        (samples.jpeg_bytes, "image/jpg"),
        (samples.pdf_bytes, "application/pdf"),
        (samples.mp4_bytes, "video/mp4"),
        (samples.mov_bytes, "video/quicktime"),
        (samples.mov_bytes, "video/mp4"),
        (samples.heic_bytes, "image/heif"),
        (
            samples.docx_bytes,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (samples.docx_bytes, "application/zip"),
        (samples.png_bytes, "application/octet-stream"),
        (lambda: b"plain words", "image/jpeg"),
        (lambda: bytes(range(256)) * 4, "image/jpeg"),
        (lambda: b"", "image/jpeg"),
    ],
)
def test_consistent_or_unknown_bytes_pass(make: Callable[[], bytes], declared: str) -> None:
    data = make()
    detected = TypeChecker().detect(data)
    assert not contradicts(declared, detected, data), (declared, detected)


def test_an_office_document_read_as_a_plain_zip_passes_when_it_is_a_package() -> None:
    head = b"PK\x03\x04" + bytes(26) + b"[Content_Types].xml"
    declared = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert not contradicts(declared, "application/zip", head)
    assert contradicts(declared, "application/zip", b"PK\x03\x04" + bytes(26) + b"a.exe")


def test_content_type_mismatch_is_recorded_and_nothing_is_stored(env: Env) -> None:
    blob = LocalBlob(io.BytesIO(samples.png_bytes()), "application/pdf", "passport.pdf")
    outcome = env.engine().upload(env.job({"passport": blob}))
    failure = outcome.failures["passport"]
    assert (failure.code, failure.retryable) == (C.CONTENT_TYPE_MISMATCH, False)
    assert "image/png" in failure.message
    assert env.keys() == []


def test_passing_files_record_the_detected_type(env: Env) -> None:
    files: dict[str, Any] = {
        "selfie": LocalBlob(io.BytesIO(samples.jpeg_bytes()), "image/jpeg"),
        "video": env.stage_file("v.mp4", samples.mp4_bytes(), content_type="video/mp4"),
    }
    outcome = env.engine().upload(env.job(files))
    assert outcome.failures == {}
    assert outcome.objects["selfie"].detected_content_type == "image/jpeg"
    assert outcome.objects["video"].detected_content_type == "video/mp4"
    assert outcome.objects["selfie"].scan is None


def test_type_check_off_lets_a_mismatch_through_and_records_nothing(env: Env) -> None:
    blob = LocalBlob(io.BytesIO(samples.png_bytes()), "application/pdf")
    outcome = env.engine(type_check=False).upload(env.job({"doc": blob}))
    assert outcome.objects["doc"].detected_content_type is None


def test_a_mismatched_multipart_file_fails_before_any_part(env: Env) -> None:
    data = samples.elf_bytes() + bytes(6 * MiB)
    ref = env.stage_file("big.jpg", data, content_type="image/jpeg")
    client = env.flaky()
    engine = env.engine(client, multipart_threshold_bytes=5 * MiB, multipart_part_bytes=5 * MiB)
    outcome = engine.upload(env.job({"doc": ref}))
    assert outcome.failures["doc"].code is C.CONTENT_TYPE_MISMATCH
    assert "upload_part" not in client.calls
    assert env.client.list_multipart_uploads(Bucket=env.dest).get("Uploads", []) == []


def test_a_copied_object_is_type_checked_from_a_ranged_get(env: Env) -> None:
    data = samples.elf_bytes() + bytes(2 * HEAD_BYTES)
    ref = env.stage_s3("a.pdf", data, stored_checksum=True)
    client = env.flaky()
    ranges: list[str] = []
    client.before["get_object"] = lambda kwargs: ranges.append(kwargs.get("Range", "all"))
    outcome = env.engine(client).upload(env.job({"doc": ref}))
    assert outcome.failures["doc"].code is C.CONTENT_TYPE_MISMATCH
    assert ranges == [f"bytes=0-{HEAD_BYTES - 1}"]
    assert "copy_object" not in client.calls


# -- clamd's answers, scripted ----------------------------------------------------------


def _clean(_body: bytes) -> bytes:
    return b"stream: OK\0"


def _scanned(env: Env, tmp_path: Path, reply: Callable[[bytes], bytes], files: dict[str, Any],
             **settings: Any) -> Any:  # fmt: skip
    with scripted_clamd(tmp_path / "clamd.sock", reply) as clamd:
        engine = env.engine(clamd_address=clamd.address, **settings)
        return engine.upload(env.job(files)), clamd


def test_a_clean_file_carries_the_scan_report(env: Env, tmp_path: Path) -> None:
    data = samples.pdf_bytes()
    outcome, clamd = _scanned(
        env, tmp_path, _clean, {"doc": LocalBlob(io.BytesIO(data), "application/pdf")}
    )
    stored: StoredObject = outcome.objects["doc"]
    assert stored.scan is not None
    assert (stored.scan.scanner, stored.scan.verdict) == ("ClamAV 9.9.9", ScanVerdict.CLEAN)
    assert stored.scan.database_version == "12345/Thu Jan  1 00:00:00 2026"
    assert clamd.received == [data]


def test_malware_detected_names_the_signature(env: Env, tmp_path: Path) -> None:
    outcome, _ = _scanned(
        env, tmp_path, lambda _b: b"stream: Win.Test.Sig-1 FOUND\0",
        {"selfie": LocalBlob(io.BytesIO(b"anything"), "image/jpeg")},
    )  # fmt: skip
    failure = outcome.failures["selfie"]
    assert (failure.code, failure.retryable) == (C.MALWARE_DETECTED, False)
    assert "Win.Test.Sig-1" in failure.message
    assert env.keys() == []


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (b"stream: (null) FOUND\0", "limit"),
        (b"stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND\0", "limit"),
        (b"INSTREAM size limit exceeded. ERROR\0", "StreamMaxLength"),
        (b"stream: Can't allocate memory ERROR\0", "answered"),
        (b"", "nothing"),
        (b"PONG\0", "answered"),
    ],
)
def test_anything_but_a_clean_verdict_is_scan_failed(
    env: Env, tmp_path: Path, reply: bytes, why: str
) -> None:
    outcome, _ = _scanned(
        env, tmp_path, lambda _b: reply, {"doc": LocalBlob(io.BytesIO(b"bytes"), "application/pdf")}
    )
    failure = outcome.failures["doc"]
    assert (failure.code, failure.retryable) == (C.SCAN_FAILED, True)
    assert why in failure.message
    assert env.keys() == []


def test_an_ok_after_zero_bytes_is_not_clean(env: Env, tmp_path: Path) -> None:
    outcome, _ = _scanned(
        env, tmp_path, _clean, {"doc": LocalBlob(io.BytesIO(b""), "application/pdf")}
    )
    assert outcome.failures["doc"].code is C.SCAN_FAILED
    assert "empty file" in outcome.failures["doc"].message
    assert env.keys() == []


def test_unreachable_clamd_is_scan_failed_before_any_s3_write(env: Env, tmp_path: Path) -> None:
    client = env.flaky()
    engine = env.engine(client, clamd_address=f"unix://{tmp_path}/nobody-listens.sock")
    outcome = engine.upload(env.job({"doc": LocalBlob(io.BytesIO(b"bytes"), "application/pdf")}))
    failure = outcome.failures["doc"]
    assert (failure.code, failure.retryable) == (C.SCAN_FAILED, True)
    assert "connect" in failure.message
    assert "put_object" not in client.calls


def test_malware_at_the_end_of_a_multipart_file_aborts_it(env: Env, tmp_path: Path) -> None:
    data = samples.pdf_bytes() + bytes(11 * MiB)

    def reply(body: bytes) -> bytes:
        return b"stream: Tail.Sig FOUND\0" if body.endswith(bytes(1024)) else b"stream: OK\0"

    ref = env.stage_file("big.pdf", data, content_type="application/pdf")
    parts = {"multipart_threshold_bytes": 5 * MiB, "multipart_part_bytes": 5 * MiB}
    outcome, clamd = _scanned(env, tmp_path, reply, {"doc": ref}, **parts)
    assert outcome.failures["doc"].code is C.MALWARE_DETECTED
    assert clamd.received == [data]
    assert env.client.list_multipart_uploads(Bucket=env.dest).get("Uploads", []) == []
    assert env.keys() == []


def test_a_scanned_copy_streams_the_staged_object_through_clamd(env: Env, tmp_path: Path) -> None:
    data = samples.pdf_bytes()
    ref = env.stage_s3("a.pdf", data, stored_checksum=True)
    outcome, clamd = _scanned(env, tmp_path, _clean, {"doc": ref})
    assert outcome.objects["doc"].scan is not None
    assert clamd.received == [data]
    assert env.body(outcome.objects["doc"].key) == data


def test_reply_parsing() -> None:
    assert parse_instream_reply("stream: OK") == (Outcome.CLEAN, "")
    assert parse_instream_reply("stream: Eicar-Sig FOUND") == (Outcome.FOUND, "Eicar-Sig")
    assert parse_instream_reply("stream: (null) FOUND")[0] is Outcome.FAILED
    assert parse_instream_reply("stream: OK ERROR")[0] is Outcome.FAILED
    assert split_version("ClamAV 1.4.6/27845/Tue Dec  1 08:27:15 2026") == (
        "ClamAV 1.4.6",
        "27845/Tue Dec  1 08:27:15 2026",
    )
    assert split_version("ClamAV 1.4.6") == ("ClamAV 1.4.6", None)

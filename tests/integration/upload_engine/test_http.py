"""The engine against an S3 endpoint over HTTP (the stack's moto server), plus real
network failures: a refused connection and a server that never answers."""

from __future__ import annotations

import hashlib
import io
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from schemas import BlobRef
from schemas import FileFailureCode as C
from upload_engine import LocalBlob, UploadEngine, UploadJob
from upload_engine.settings import EngineSettings
from upload_engine.verify import b64_of_hex

DATA = b"%PDF-1.7 over http"
DIGEST = hashlib.sha256(DATA).hexdigest()


def make_job(bucket: str, files: dict[str, Any]) -> UploadJob:
    return UploadJob(
        request_id="it-1",
        user_id="42",
        file_category="kyc",
        bucket=bucket,
        files=files,
        max_workers=4,
    )


@pytest.fixture
def staging_engine(
    engine_on_stack: Callable[..., UploadEngine], tmp_path: Path
) -> Callable[..., UploadEngine]:
    """`staging_engine(stage, **settings)`: an engine that may read `s3://{stage}/in/` and
    files under tmp_path, retrying quickly."""

    def make(stage: str, **overrides: Any) -> UploadEngine:
        roots = [f"s3://{stage}/in/", f"file://{tmp_path}/"]
        values: dict[str, Any] = {"staging_allowlist": roots, "retry_base_delay_s": 0.01}
        return engine_on_stack(**{**values, **overrides})

    return make


def test_every_source_over_http(
    staging_engine: Any, s3: Any, make_bucket: Any, tmp_path: Path
) -> None:
    dest, stage = make_bucket("dest"), make_bucket("stage")
    s3.put_object(Bucket=stage, Key="in/streamed", Body=DATA)
    s3.put_object(
        Bucket=stage,
        Key="in/copied",
        Body=DATA,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=b64_of_hex(DIGEST),
    )
    (tmp_path / "doc.pdf").write_bytes(DATA)

    def ref(uri: str) -> BlobRef:
        return BlobRef(uri=uri, size=len(DATA), sha256=DIGEST, content_type="application/pdf")

    files: dict[str, Any] = {
        "streamed": ref(f"s3://{stage}/in/streamed"),
        "copied": ref(f"s3://{stage}/in/copied"),
        "file": ref(f"file://{tmp_path}/doc.pdf"),
        "local": LocalBlob(io.BytesIO(DATA), "application/pdf", "x.pdf"),
        "outside": ref(f"s3://{stage}/elsewhere"),
    }
    outcome = staging_engine(stage).upload(make_job(dest, files))
    assert set(outcome.objects) == {"streamed", "copied", "file", "local"}
    assert outcome.failures["outside"].code is C.SOURCE_NOT_ALLOWED
    for file_type, obj in outcome.objects.items():
        assert obj.key == f"kyc/user_42/{file_type}/{DIGEST}.pdf"
        assert s3.get_object(Bucket=dest, Key=obj.key)["Body"].read() == DATA


def test_corrupted_staged_object_never_appears(
    staging_engine: Any, s3: Any, make_bucket: Any
) -> None:
    dest, stage = make_bucket("dest"), make_bucket("stage")
    s3.put_object(Bucket=stage, Key="in/bad", Body=DATA.upper())
    ref = BlobRef(
        uri=f"s3://{stage}/in/bad", size=len(DATA), sha256=DIGEST, content_type="application/pdf"
    )
    outcome = staging_engine(stage).upload(make_job(dest, {"doc": ref}))
    assert outcome.failures["doc"].code is C.CHECKSUM_MISMATCH
    assert s3.list_objects_v2(Bucket=dest).get("KeyCount") == 0


def test_missing_destination_bucket(staging_engine: Any, make_bucket: Any) -> None:
    stage = make_bucket("stage")
    outcome = staging_engine(stage).upload(
        make_job("no-such-bucket-here", {"doc": LocalBlob(io.BytesIO(DATA), "application/pdf")})
    )
    assert outcome.failures["doc"].code is C.DESTINATION_NOT_FOUND


def _local_settings(endpoint: str, **overrides: Any) -> EngineSettings:
    values: dict[str, Any] = {
        "staging_allowlist": [],
        "retry_max_attempts": 2,
        "retry_base_delay_s": 0.01,
        "s3_connect_timeout_s": 0.5,
        "s3_read_timeout_s": 0.3,
        "s3_addressing_style": "path",
    }
    values.update(overrides)
    return EngineSettings(**values)


def _engine_at(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> UploadEngine:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    return UploadEngine(_local_settings(endpoint))


def test_refused_connection_is_a_network_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = _engine_at(f"http://127.0.0.1:{port}", monkeypatch)
    try:
        outcome = engine.upload(
            make_job("bucket", {"doc": LocalBlob(io.BytesIO(DATA), "application/pdf")})
        )
    finally:
        engine.close()
    failure = outcome.failures["doc"]
    assert (failure.code, failure.retryable) == (C.NETWORK_ERROR, True)
    assert "after 2 attempts" in failure.message


def test_silent_server_is_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        engine = _engine_at(f"http://127.0.0.1:{silent.getsockname()[1]}", monkeypatch)
        try:
            outcome = engine.upload(
                make_job("bucket", {"doc": LocalBlob(io.BytesIO(DATA), "application/pdf")})
            )
        finally:
            engine.close()
    assert outcome.failures["doc"].code is C.TIMEOUT

"""AWSService's contract with its callers, over a fake transport (no S3 needed)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from unittest.mock import Mock, patch

import pytest

from producer_lib import AWSService
from producer_lib.errors import InvalidUploadError, TransportUnavailableError
from producer_lib.transport import transport_from_env
from schemas import FileFailure, FileFailureCode, StoredObject, UploadResult, status_for
from upload_engine.model import LocalBlob
from upload_engine.settings import EngineSettings


class FakeTransport:
    """Records calls; `fail` names file types to report as failed."""

    def __init__(self, fail: tuple[str, ...] = ()) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail

    def upload(
        self,
        *,
        user_id: str,
        files: Mapping[str, LocalBlob],
        file_category: str,
        bucket: str,
        max_workers: int,
    ) -> UploadResult:
        self.calls.append(
            {
                "user_id": user_id,
                "files": dict(files),
                "file_category": file_category,
                "bucket": bucket,
                "max_workers": max_workers,
            }
        )
        objects = {
            ft: StoredObject(
                bucket=bucket,
                key=f"{file_category}/user_{user_id}/{ft}/{'0' * 64}",
                size=1,
                sha256="0" * 64,
                content_type=b.content_type,
                etag="e",
                version_id=None,
            )
            for ft, b in files.items()
            if ft not in self.fail
        }
        failures = {
            ft: FileFailure.of(FileFailureCode.THROTTLED, "slow") for ft in files if ft in self.fail
        }
        now = datetime.now(UTC)
        return UploadResult(
            request_id="r1", user_id=user_id, file_category=file_category, bucket=bucket,
            status=status_for(uploaded=len(objects), failed=len(failures)),
            urls={ft: o.url for ft, o in objects.items()}, objects=objects, failures=failures,
            started_at=now, finished_at=now, duration_ms=0,
        )  # fmt: skip


def service(transport: FakeTransport, bucket: str | None = "kyc-bucket") -> AWSService:
    return AWSService(bucket, settings=EngineSettings(staging_allowlist=[]), transport=transport)


def test_upload_files_concurrently_returns_urls_of_successes_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeTransport(fail=("bank_statement",))
    urls = service(fake).upload_files_concurrently(
        123,
        {"passport": io.BytesIO(b"p"), "bank_statement": io.BytesIO(b"b"), "contract": None},
        "kyc_documents",
        max_workers=4,
    )
    assert urls == {"passport": f"s3://kyc-bucket/kyc_documents/user_123/passport/{'0' * 64}"}
    [call] = fake.calls
    assert set(call["files"]) == {"passport", "bank_statement"}  # None ignored
    assert (call["user_id"], call["file_category"], call["bucket"], call["max_workers"]) == (
        "123",
        "kyc_documents",
        "kyc-bucket",
        4,
    )
    assert "file_type=bank_statement code=throttled" in caplog.text


def test_upload_to_s3_is_the_legacy_id_card_call() -> None:
    fake = FakeTransport()
    urls = service(fake).upload_to_s3(7, io.BytesIO(b"f"), io.BytesIO(b"b"), io.BytesIO(b"s"))
    assert set(urls) == {"front", "back", "selfie"}
    [call] = fake.calls
    assert (call["file_category"], call["max_workers"]) == ("id_cards", 4)
    assert set(call["files"]) == {"front", "back", "selfie"}


def test_bucket_name_argument_wins() -> None:
    fake = FakeTransport()
    service(fake).upload_files_concurrently(
        "u", {"a": io.BytesIO(b"x")}, bucket_name="other-bucket"
    )
    assert fake.calls[0]["bucket"] == "other-bucket"


def test_default_bucket_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPLOAD_STREAM_DEFAULT_BUCKET", "env-bucket")
    fake = FakeTransport()
    AWSService(transport=fake).upload_files_concurrently("u", {"a": io.BytesIO(b"x")})
    assert fake.calls[0]["bucket"] == "env-bucket"


@pytest.mark.parametrize(
    ("user_id", "category", "file_type"),
    [
        ("../x", "general", "a"),
        ("u", "../etc", "a"),
        ("u", "general", "../../a"),
        ("u", "general", "A"),
        (True, "general", "a"),
    ],
)
def test_hostile_names_raise_before_anything_is_read(
    user_id: Any, category: str, file_type: str
) -> None:
    fake = FakeTransport()
    stream = Mock()
    with pytest.raises(InvalidUploadError):
        service(fake).upload_files_concurrently(user_id, {file_type: stream}, category)
    assert fake.calls == []
    stream.read.assert_not_called()


def test_no_bucket_and_no_files_raise() -> None:
    with pytest.raises(InvalidUploadError, match="no bucket"):
        service(FakeTransport(), bucket=None).upload_files("u", {"a": io.BytesIO(b"x")})
    with pytest.raises(InvalidUploadError, match="no files"):
        service(FakeTransport()).upload_files("u", {"a": None})


def test_max_workers_is_clamped_to_the_contract() -> None:
    fake = FakeTransport()
    service(fake).upload_files_concurrently("u", {"a": io.BytesIO(b"x")}, max_workers=500)
    service(fake).upload_files_concurrently("u", {"a": io.BytesIO(b"x")}, max_workers=0)
    assert [c["max_workers"] for c in fake.calls] == [64, 1]


class DjangoLike:
    def __init__(self, name: str | None, content_type: str | None) -> None:
        self.name = name
        self.content_type = content_type
        self.size = 3

    def read(self, size: int = -1) -> bytes:
        return b""


@pytest.mark.parametrize(
    ("name", "declared", "expected"),
    [
        ("scan.pdf", "application/pdf", "application/pdf"),
        ("scan.pdf", "Image/JPEG; charset=binary", "image/jpeg"),
        ("photo.JPEG", None, "image/jpeg"),
        ("photo.jpg", "", "image/jpeg"),
        ("clip.mov", "not a type", "video/quicktime"),
        ("/tmp/upload/x.png", None, "image/png"),
        ("noext", None, "application/octet-stream"),
        (None, None, "application/octet-stream"),
    ],
)
def test_content_type_resolution(name: str | None, declared: str | None, expected: str) -> None:
    fake = FakeTransport()
    service(fake).upload_files("u", {"doc": DjangoLike(name, declared)})
    assert fake.calls[0]["files"]["doc"].content_type == expected


def test_seed_test_pattern_sees_the_pool_it_mocked() -> None:
    # The seed guide's test: @patch('<module>.gevent') and @patch.object(AWSService, 's3').
    with (
        patch("producer_lib.aws_service.gevent") as mock_gevent,
        patch.object(AWSService, "s3") as mock_s3,
    ):
        svc = AWSService("seed-bucket", settings=EngineSettings(staging_allowlist=[]))
        assert svc.s3 is mock_s3
        urls = svc.upload_files_concurrently(
            123, {"test": io.BytesIO(b"data")}, "test", max_workers=3
        )
    mock_gevent.pool.Pool.assert_called_once_with(3)
    # A mocked pool runs nothing: no call reached S3 and nothing is reported uploaded.
    assert urls == {}
    mock_s3.put_object.assert_not_called()


def test_a_patched_s3_client_sees_every_put() -> None:
    with patch.object(AWSService, "s3") as mock_s3:
        mock_s3.put_object.return_value = {"ETag": '"abc"'}
        svc = AWSService("seed-bucket", settings=EngineSettings(staging_allowlist=[]))
        files = {f"f{i}": io.BytesIO(b"data %d" % i) for i in range(5)}
        urls = svc.upload_files_concurrently(123, files, "test", max_workers=2)
        # A second upload: the lean PUT never takes over a client that is not the engine's.
        svc.upload_files_concurrently(123, {"again": io.BytesIO(b"x")}, "test")
    assert set(urls) == set(files)
    assert urls["f0"].startswith("s3://seed-bucket/test/user_123/f0/")
    assert mock_s3.put_object.call_count == 6
    assert {c.kwargs["Bucket"] for c in mock_s3.put_object.call_args_list} == {"seed-bucket"}


def test_unknown_and_unavailable_modes() -> None:
    with pytest.raises(TransportUnavailableError, match="must be one of"):
        transport_from_env(mode="carrier-pigeon")
    try:
        import producer_lib.kafka_transport  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(TransportUnavailableError, match="kafka mode is not available"):
            transport_from_env(mode="kafka")


def test_services_made_per_request_share_one_client_and_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UPLOAD_STREAM_DEFAULT_BUCKET", "shared-bucket")
    monkeypatch.delenv("UPLOAD_STREAM_AWS_SERVICE_MODE", raising=False)
    first, second = AWSService(), AWSService()
    assert first.s3 is second.s3
    engine = first._transport_now().engine
    assert engine is second._transport_now().engine
    # The service's own client is the shared engine's own: the lean signed PUT is on.
    assert engine.client is first.s3
    assert engine.fast_put is not None

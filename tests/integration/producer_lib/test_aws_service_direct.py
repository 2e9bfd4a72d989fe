"""AWSService in direct mode against the stack's S3 endpoint, configured from the environment."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from producer_lib import AWSService


@pytest.fixture
def service(stack: Any, make_bucket: Any, monkeypatch: pytest.MonkeyPatch) -> AWSService:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.s3_endpoint)
    monkeypatch.setenv("UPLOAD_STREAM_DEFAULT_BUCKET", make_bucket("kyc"))
    monkeypatch.setenv("UPLOAD_STREAM_S3_ADDRESSING_STYLE", "path")
    monkeypatch.delenv("UPLOAD_STREAM_AWS_SERVICE_MODE", raising=False)
    return AWSService()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read(s3: Any, url: str) -> bytes:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


class DjangoLike:
    """What views pass: `.read()`, `.chunks()`, `.name`, `.content_type`, `.size`."""

    def __init__(self, data: bytes, name: str, content_type: str) -> None:
        self._stream = io.BytesIO(data)
        self.name, self.content_type, self.size = name, content_type, len(data)

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def chunks(self, chunk_size: int = 65536) -> Any:
        while chunk := self.read(chunk_size):
            yield chunk


def test_upload_files_concurrently_with_every_kind_of_file(
    service: AWSService, s3: Any, tmp_path: Path
) -> None:
    bucket = service.bucket_name
    payloads = {
        "passport": b"%PDF passport",
        "utility_bill": b"\xff\xd8 bill",
        "bank_statement": b"\x89PNG bank",
        "contract": b"contract text",
    }
    (tmp_path / "bill.jpg").write_bytes(payloads["utility_bill"])
    with (tmp_path / "bill.jpg").open("rb") as open_file:
        files = {
            "passport": SimpleUploadedFile(
                "Passport.PDF", payloads["passport"], content_type="application/pdf"
            ),
            "utility_bill": open_file,
            "bank_statement": DjangoLike(payloads["bank_statement"], "statement.png", "image/png"),
            "contract": io.BytesIO(payloads["contract"]),
            "selfie": None,
        }
        urls = service.upload_files_concurrently(
            user_id=123, files=files, file_category="kyc_documents", max_workers=4
        )
    assert urls == {
        "passport": f"s3://{bucket}/kyc_documents/user_123/passport/{digest(payloads['passport'])}.pdf",
        "utility_bill": f"s3://{bucket}/kyc_documents/user_123/utility_bill/{digest(payloads['utility_bill'])}.jpg",
        "bank_statement": f"s3://{bucket}/kyc_documents/user_123/bank_statement/{digest(payloads['bank_statement'])}.png",
        "contract": f"s3://{bucket}/kyc_documents/user_123/contract/{digest(payloads['contract'])}",
    }
    for file_type, url in urls.items():
        assert read(s3, url) == payloads[file_type]
    head = s3.head_object(Bucket=bucket, Key=urls["utility_bill"].split("/", 3)[3])
    assert head["ContentType"] == "image/jpeg"


def test_upload_to_s3_legacy(service: AWSService, s3: Any) -> None:
    front, back, selfie = b"front", b"back", b"selfie"
    urls = service.upload_to_s3(7, io.BytesIO(front), io.BytesIO(back), io.BytesIO(selfie))
    bucket = service.bucket_name
    assert urls == {
        "front": f"s3://{bucket}/id_cards/user_7/front/{digest(front)}",
        "back": f"s3://{bucket}/id_cards/user_7/back/{digest(back)}",
        "selfie": f"s3://{bucket}/id_cards/user_7/selfie/{digest(selfie)}",
    }
    assert read(s3, urls["selfie"]) == selfie


def test_upload_files_reports_failures(service: AWSService) -> None:
    result = service.upload_files(9, {"good": io.BytesIO(b"ok")}, bucket_name="no-such-bucket-x")
    assert result.status.value == "failed"
    assert result.failures["good"].code.value == "destination_not_found"
    assert result.request_id.startswith("direct-")

"""AWSService in direct mode passes the same content gate (it is the same engine): a real
clamd from the harness, the stack's S3 endpoint, configured from the environment."""

from __future__ import annotations

import io
from typing import Any

import pytest

from producer_lib import AWSService
from schemas import FileFailureCode as C
from tests import samples


@pytest.fixture
def service(stack: Any, clamd: Any, make_bucket: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.s3_endpoint)
    monkeypatch.setenv("UPLOAD_STREAM_DEFAULT_BUCKET", make_bucket("kyc"))
    monkeypatch.setenv("UPLOAD_STREAM_S3_ADDRESSING_STYLE", "path")
    monkeypatch.setenv("UPLOAD_STREAM_CLAMD_ADDRESS", clamd.unix_address)
    monkeypatch.delenv("UPLOAD_STREAM_AWS_SERVICE_MODE", raising=False)
    return AWSService()


class Upload(io.BytesIO):
    def __init__(self, data: bytes, name: str, content_type: str) -> None:
        super().__init__(data)
        self.name, self.content_type = name, content_type


def test_direct_mode_scans_and_type_checks(service: Any) -> None:
    result = service.upload_files(
        user_id=7,
        files={
            "passport": Upload(samples.pdf_bytes(), "passport.pdf", "application/pdf"),
            "selfie": Upload(samples.eicar(), "selfie.jpg", "image/jpeg"),
            "utility_bill": Upload(samples.elf_bytes(), "bill.jpg", "image/jpeg"),
        },
    )
    assert set(result.urls) == {"passport"}
    assert result.objects["passport"].scan is not None
    assert result.objects["passport"].detected_content_type == "application/pdf"
    assert result.failures["selfie"].code is C.MALWARE_DETECTED
    assert result.failures["utility_bill"].code is C.CONTENT_TYPE_MISMATCH

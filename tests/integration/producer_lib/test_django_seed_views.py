"""The seed guide's DRF view and serializer (tests/django_project/views.py), driven by
Django's test client against the real stack, in both AWSService modes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.producer_support import (
    Pipeline,
    aws_service_env,
    expected_url,
    pipeline,
    read_s3_url,
    setup_django,
)

setup_django()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.test import Client  # noqa: E402

SENT = {
    "passport": ("passport.pdf", b"%PDF-1.4 passport scan"),
    "bank_statement": ("statement.png", b"\x89PNG statement"),
}


@pytest.fixture(params=["direct", "kafka"])
def pipe(
    request: pytest.FixtureRequest, stack: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Pipeline]:
    made = pipeline(request, stack)
    yield from aws_service_env(monkeypatch, made, request.param)


def _post(path: str, user: str = "321", **files: tuple[str, bytes]) -> Any:
    data = {k: SimpleUploadedFile(name, body) for k, (name, body) in files.items()}
    return Client().post(path, data, HTTP_X_USER=user)


def _urls(pipe: Pipeline, category: str) -> dict[str, str]:
    return {
        file_type: expected_url(pipe, category, 321, file_type, body, name)
        for file_type, (name, body) in SENT.items()
    }


def test_seed_document_upload_view(pipe: Pipeline, s3: Any) -> None:
    response = _post("/documents/", **SENT)

    assert response.status_code == 200
    expected = _urls(pipe, "verification_documents")
    assert response.json() == {
        "status": "success",
        "uploaded_files": expected,
        "uploaded_count": 2,
        "total_files": 2,
    }
    for file_type, (_name, body) in SENT.items():
        assert read_s3_url(s3, expected[file_type]) == body


def test_seed_view_without_files_answers_400(pipe: Pipeline) -> None:
    response = Client().post("/documents/", {}, HTTP_X_USER="321")
    assert response.status_code == 400
    assert response.json() == {"error": "No files provided"}


def test_seed_serializer(pipe: Pipeline, s3: Any) -> None:
    response = _post("/documents/serializer/", **SENT)

    assert response.status_code == 200
    expected = _urls(pipe, "user_documents")
    assert response.json() == {"uploaded_files": expected}
    for file_type, (_name, body) in SENT.items():
        assert read_s3_url(s3, expected[file_type]) == body


def test_files_from_request_helper(pipe: Pipeline, s3: Any) -> None:
    response = _post("/documents/helper/", **SENT)

    assert response.status_code == 200
    assert response.json() == {"uploaded_files": _urls(pipe, "verification_documents")}

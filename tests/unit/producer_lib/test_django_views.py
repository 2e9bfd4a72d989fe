"""The ticket, submit and status views and the page, under Django's test client: S3 is moto
in-process, the publisher and the result board are fakes (no Kafka)."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django_project.settings")
import django

django.setup()

from django.test import Client  # noqa: E402

from producer_lib.errors import PublishError  # noqa: E402
from producer_lib.result_board import ResultBoard  # noqa: E402
from producer_lib.s3_staging import S3Stager  # noqa: E402
from producer_lib.tickets import StagingTickets  # noqa: E402
from schemas import UploadRequest, UploadResult  # noqa: E402
from schemas.examples import example_result  # noqa: E402
from tests.django_project import urls  # noqa: E402
from tests.unit.engine_support import STAGE_PREFIX, Env, sha  # noqa: E402

PDF = b"%PDF-1.4 passport " * 30


class _Publisher:
    def __init__(self) -> None:
        self.published: list[UploadRequest] = []
        self.fail = False

    def publish(self, request: UploadRequest) -> None:
        if self.fail:
            raise PublishError("broker down", request_ids=[request.request_id])
        self.published.append(request)

    def close(self) -> None:
        pass


class _Router:
    def start(self) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture
def parts(env: Env) -> Iterator[tuple[_Publisher, ResultBoard]]:
    endpoints = urls.UPLOADS
    saved = (endpoints._tickets, endpoints._publisher, endpoints._board)
    publisher = _Publisher()
    board = ResultBoard(router=_Router())  # type: ignore[arg-type]
    endpoints._tickets = StagingTickets(
        stager=S3Stager(env.stage, STAGE_PREFIX, client=env.client),
        secret=b"views-test-secret-0123456789",
        max_file_bytes=10_000,
    )
    endpoints._publisher = publisher
    endpoints._board = board
    yield publisher, board
    endpoints._tickets, endpoints._publisher, endpoints._board = saved


def _client_with_csrf(user: str = "55") -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    client.cookies["test_user"] = user
    page = client.get("/uploads/")
    assert page.status_code == 200
    encoded = re.search(r'atob\("([^"]+)"\)', page.content.decode())
    assert encoded is not None
    config = json.loads(base64.b64decode(encoded.group(1)))
    return client, str(config["csrf_token"])


def _declared(**overrides: Any) -> dict[str, Any]:
    return {
        "file_type": "passport",
        "filename": "scan.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "sha256": sha(PDF),
        **overrides,
    }


def _json_post(client: Client, path: str, body: Any, token: str | None) -> Any:
    headers = {"HTTP_X_CSRFTOKEN": token} if token else {}
    return client.post(path, json.dumps(body), content_type="application/json", **headers)


def test_the_page_names_the_endpoints_and_the_file_types(parts: Any) -> None:
    client = Client()
    page = client.get("/uploads/")
    encoded = re.search(r'atob\("([^"]+)"\)', page.content.decode())
    assert encoded is not None
    config = json.loads(base64.b64decode(encoded.group(1)))
    assert config["file_types"] == ["passport", "selfie", "utility_bill"]
    assert config["ticket_url"] == "/uploads/tickets/"
    assert config["submit_url"] == "/uploads/submit/"
    assert config["status_url"] == "/uploads/status/__ID__/"
    assert "csrftoken" in page.cookies


def test_ticket_then_upload_then_submit_publishes_the_users_request(
    parts: tuple[_Publisher, ResultBoard],
) -> None:
    publisher, _board = parts
    client, csrf = _client_with_csrf("55")
    issued = _json_post(client, "/uploads/tickets/", {"files": [_declared()]}, csrf)
    assert issued.status_code == 201
    body = issued.json()
    ticket = body["tickets"]["passport"]
    assert set(ticket) == {"method", "url", "fields", "headers"}  # Uppy's shape
    posted = requests.post(
        ticket["url"], data=ticket["fields"], files={"file": ("scan.pdf", PDF)}, timeout=10
    )
    assert posted.status_code == 204

    submitted = _json_post(client, "/uploads/submit/", {"token": body["token"]}, csrf)

    assert submitted.status_code == 202
    assert submitted.json() == {"request_id": body["request_id"]}
    (request,) = publisher.published
    assert (request.request_id, request.user_id, request.file_category) == (
        body["request_id"],
        "55",
        "kyc_documents",
    )


def test_the_user_id_comes_from_the_session_not_the_body(
    parts: tuple[_Publisher, ResultBoard],
) -> None:
    client, csrf = _client_with_csrf("55")
    body = {"files": [_declared()], "user_id": "1"}
    issued = _json_post(client, "/uploads/tickets/", body, csrf)
    assert issued.status_code == 201
    other, other_csrf = _client_with_csrf("56")
    refused = _json_post(other, "/uploads/submit/", {"token": issued.json()["token"]}, other_csrf)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "wrong_user"


def test_posts_without_the_csrf_token_are_refused(parts: Any) -> None:
    client, _csrf = _client_with_csrf()
    response = _json_post(client, "/uploads/tickets/", {"files": [_declared()]}, None)
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_anonymous_calls_are_refused(parts: Any) -> None:
    response = Client().get("/uploads/status/req-1/")
    assert response.status_code in (401, 403)


@pytest.mark.parametrize(
    ("declared", "status", "code"),
    [
        (_declared(file_type="bank_statement"), 400, "invalid_declaration"),
        (_declared(size=10_001), 400, "too_large"),
        (_declared(content_type="nonsense"), 400, "invalid_declaration"),
    ],
)
def test_ticket_errors_carry_their_code(
    parts: Any, declared: dict[str, Any], status: int, code: str
) -> None:
    client, csrf = _client_with_csrf()
    response = _json_post(client, "/uploads/tickets/", {"files": [declared]}, csrf)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_submit_before_uploading_is_409_not_uploaded(parts: Any) -> None:
    client, csrf = _client_with_csrf()
    token = _json_post(client, "/uploads/tickets/", {"files": [_declared()]}, csrf).json()["token"]
    response = _json_post(client, "/uploads/submit/", {"token": token}, csrf)
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "not_uploaded",
        "message": "passport was not uploaded",
        "file_type": "passport",
    }


def test_a_broker_failure_is_503_publish_failed(parts: tuple[_Publisher, ResultBoard]) -> None:
    publisher, _board = parts
    publisher.fail = True
    client, csrf = _client_with_csrf()
    body = _json_post(client, "/uploads/tickets/", {"files": [_declared()]}, csrf).json()
    ticket = body["tickets"]["passport"]
    requests.post(ticket["url"], data=ticket["fields"], files={"file": ("a", PDF)}, timeout=10)
    response = _json_post(client, "/uploads/submit/", {"token": body["token"]}, csrf)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "publish_failed"


def test_status_follows_the_board_for_the_owner_only(parts: tuple[_Publisher, ResultBoard]) -> None:
    _publisher, board = parts
    owner = Client()
    owner.cookies["test_user"] = "123"
    path = "/uploads/status/req-2026-01-31-0001/"
    assert owner.get(path).json()["status"] == "pending"
    board.put(UploadResult.model_validate(example_result(), strict=False))

    seen = owner.get(path).json()
    assert seen["status"] == "partial"
    assert seen["files"]["selfie"] == {
        "status": "failed",
        "code": "checksum_mismatch",
        "retryable": False,
    }
    assert "url" not in seen["files"]["passport"]
    stranger = Client()
    stranger.cookies["test_user"] = "124"
    assert stranger.get(path).json() == {
        "request_id": "req-2026-01-31-0001",
        "status": "pending",
        "files": {},
    }

"""The DRF views behind `producer_lib.django.UploadEndpoints` (import that, not this)."""

from __future__ import annotations

import base64
import json
import logging
from importlib import resources
from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.urls import reverse
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from producer_lib.errors import InvalidUploadError, PublishError
from producer_lib.result_board import browser_status
from producer_lib.tickets import TICKET_CODES, TicketError, normalised_user_id

log = logging.getLogger(__name__)


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> Any:
        return reason


def _error(code: str, message: str, status: int, file_type: str | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if file_type is not None:
        body["file_type"] = file_type
    return Response({"error": body}, status=status)


class _EndpointView(APIView):
    endpoints: Any = None
    http_method_names: ClassVar[list[str]] = ["get", "post", "options"]

    def get_permissions(self) -> list[Any]:
        return [cls() for cls in self.endpoints.permission_classes]

    def get_authenticators(self) -> list[Any]:
        classes = self.endpoints.authentication_classes
        return super().get_authenticators() if classes is None else [cls() for cls in classes]

    def get_throttles(self) -> list[Any]:
        classes = self.endpoints.throttle_classes
        return super().get_throttles() if classes is None else [cls() for cls in classes]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.endpoints.csrf and request.method == "POST":
            check = _CsrfCheck(lambda _request: HttpResponse())
            django_request = request._request
            check.process_request(django_request)
            reason = check.process_view(django_request, lambda: None, (), {})
            if reason:
                raise PermissionDenied(f"CSRF failed: {reason}")

    def user_id(self, request: Request) -> str:
        return normalised_user_id(self.endpoints.user_id(request.user))

    @staticmethod
    def json_body(request: Request) -> dict[str, Any]:
        data = request.data
        return data if isinstance(data, dict) else {}


class TicketView(_EndpointView):
    """POST {"files": [{file_type, filename, content_type, size, sha256?}, ...]} -> 201
    {request_id, token, expires_at, tickets: {file_type: {method, url, fields, headers}}}."""

    def post(self, request: Request) -> Response:
        declared = self.json_body(request).get("files")
        allowed = set(self.endpoints.file_types)
        if isinstance(declared, list):
            for item in declared:
                if isinstance(item, dict) and item.get("file_type") not in allowed:
                    return _error("invalid_declaration", "file_type: not offered here", 400)
        try:
            batch = self.endpoints.tickets.issue(
                self.user_id(request),
                declared if isinstance(declared, list) else [],
                file_category=self.endpoints.file_category,
            )
        except TicketError as exc:
            return _error(exc.code, str(exc), TICKET_CODES[exc.code], exc.file_type)
        except InvalidUploadError as exc:
            return _error("invalid_declaration", str(exc), 400)
        return Response(batch.as_json(), status=201)


class SubmitView(_EndpointView):
    """POST {"token": ...} once the files are uploaded -> 202 {request_id}."""

    def post(self, request: Request) -> Response:
        try:
            upload = self.endpoints.tickets.redeem(
                self.user_id(request), self.json_body(request).get("token")
            )
        except TicketError as exc:
            return _error(exc.code, str(exc), TICKET_CODES[exc.code], exc.file_type)
        self.endpoints.board  # noqa: B018 - started before publishing, to see the result
        try:
            self.endpoints.publisher.publish(upload)
        except PublishError as exc:
            log.warning("publish failed: %s", exc, extra={"request_id": upload.request_id})
            return _error("publish_failed", "the request could not be published", 503)
        return Response({"request_id": upload.request_id}, status=202)


class StatusView(_EndpointView):
    """GET -> {request_id, status: pending|succeeded|partial|failed, files: {...}}."""

    def get(self, request: Request, request_id: str) -> Response:
        result = self.endpoints.board.get(request_id)
        return Response(
            browser_status(
                result,
                request_id=request_id,
                user_id=self.user_id(request),
                expose_details=self.endpoints.expose_details,
            )
        )


class UploadPageView(_EndpointView):
    """The plain HTML+JS page (no build step): pick files, upload with progress, see each
    file's outcome."""

    def get_permissions(self) -> list[Any]:
        return []  # the page holds nothing; every call it makes is checked

    def get(self, request: Request) -> HttpResponse:
        namespace = request.resolver_match.namespace if request.resolver_match else ""
        prefix = f"{namespace}:" if namespace else ""
        config = {
            "file_types": self.endpoints.file_types,
            "csrf_token": get_token(request._request),
            "ticket_url": reverse(f"{prefix}upload-tickets"),
            "submit_url": reverse(f"{prefix}upload-submit"),
            "status_url": reverse(f"{prefix}upload-status", args=["__ID__"]),
        }
        encoded = base64.b64encode(json.dumps(config).encode()).decode()
        page = resources.files("producer_lib").joinpath("web/upload.html").read_text("utf-8")
        return HttpResponse(page.replace("__CONFIG__", encoded), content_type="text/html")

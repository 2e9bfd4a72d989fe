"""Django helpers (extra: `upload-stream[django]`).

    from producer_lib import AWSService
    from producer_lib.django import files_from_request

    urls = AWSService().upload_files_concurrently(
        user_id=request.user.pk,
        files=files_from_request(request, ["passport", "utility_bill"]),
        file_category="kyc_documents",
    )

Works with Django's HttpRequest and DRF's Request alike (both have `.FILES`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def files_from_request(request: Any, names: Iterable[str] | None = None) -> dict[str, Any]:
    """`{field name: uploaded file}` for the named fields that were sent (missing ones are
    dropped, as the seed's `{k: v ... if v is not None}` does); every field when `names`
    is None. A field sent several times contributes its first file only."""
    uploaded = request.FILES
    wanted = list(uploaded.keys()) if names is None else list(names)
    files: dict[str, Any] = {}
    for name in wanted:
        file_obj = uploaded.get(name)
        if file_obj is not None:
            files[name] = file_obj
    return files


# -- Uploads from the browser: ticket, submit, status (and a page) ---------------------------
#
# The browser uploads straight to the staging bucket with a presigned POST per file; this
# process only signs the tickets, publishes the request and reports the result:
#
#     endpoints = UploadEndpoints.from_settings(file_types=["passport", "selfie"],
#                                               file_category="kyc_documents")
#     urlpatterns = [path("uploads/", include(endpoints.urls()))]
#
# The user id always comes from `request.user` (the app's authentication), never from the
# browser. POSTs are CSRF-checked even under non-session authentication (set `csrf=False`
# for token-authenticated API clients); permissions and throttles are DRF's own classes,
# so rate limits are the app's to choose.


class UploadEndpoints:
    """The three views' shared parts. `tickets`, `publisher` and `board` may be given, or are
    built from the environment on first use (so importing urls.py opens no connection)."""

    def __init__(
        self,
        *,
        secret: bytes | None = None,
        file_types: Iterable[str] = ("passport", "id_card_front", "id_card_back", "selfie"),
        file_category: str = "general",
        tickets: Any = None,
        publisher: Any = None,
        board: Any = None,
        expose_details: bool = False,
        csrf: bool = True,
        permission_classes: Iterable[Any] | None = None,
        authentication_classes: Iterable[Any] | None = None,
        throttle_classes: Iterable[Any] | None = None,
        user_id: Any = None,
    ) -> None:
        import threading

        from rest_framework.permissions import IsAuthenticated

        self.file_types = list(file_types)
        self.file_category = file_category
        self.expose_details = expose_details
        self.csrf = csrf
        self.permission_classes = list(permission_classes or [IsAuthenticated])
        self.authentication_classes = (
            None if authentication_classes is None else list(authentication_classes)
        )
        self.throttle_classes = None if throttle_classes is None else list(throttle_classes)
        self.user_id = user_id or (lambda user: user.pk)
        self._secret = secret
        self._tickets = tickets
        self._publisher = publisher
        self._board = board
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, **kwargs: Any) -> UploadEndpoints:
        """The parts from `UPLOAD_STREAM_*`; the ticket secret derived from SECRET_KEY."""
        from django.conf import settings

        kwargs.setdefault("secret", f"upload-stream:{settings.SECRET_KEY}".encode())
        return cls(**kwargs)

    @property
    def tickets(self) -> Any:
        with self._lock:
            if self._tickets is None:
                from producer_lib.tickets import StagingTickets

                if self._secret is None:
                    raise ValueError("UploadEndpoints needs a secret or tickets")
                self._tickets = StagingTickets.from_settings(secret=self._secret)
            return self._tickets

    @property
    def publisher(self) -> Any:
        with self._lock:
            if self._publisher is None:
                from producer_lib.publisher import RequestPublisher
                from producer_lib.settings import ProducerSettings

                settings = ProducerSettings()
                self._publisher = RequestPublisher(
                    topic=settings.requests_topic, timeout_s=settings.publish_timeout_s
                )
            return self._publisher

    @property
    def board(self) -> Any:
        with self._lock:
            if self._board is None:
                from producer_lib.result_board import ResultBoard
                from producer_lib.settings import ProducerSettings

                self._board = ResultBoard(topic=ProducerSettings().results_topic)
            board = self._board
        board.start()  # before the first publish: a result is never missed
        return board

    def close(self) -> None:
        for part in (self._board, self._publisher):
            if part is not None:
                part.close()

    def urls(self) -> list[Any]:
        """`tickets/`, `submit/`, `status/<request_id>/` and the page at ``."""
        from django.urls import path

        from producer_lib import django_views as views

        return [
            path("", views.UploadPageView.as_view(endpoints=self), name="upload-page"),
            path("tickets/", views.TicketView.as_view(endpoints=self), name="upload-tickets"),
            path("submit/", views.SubmitView.as_view(endpoints=self), name="upload-submit"),
            path(
                "status/<str:request_id>/",
                views.StatusView.as_view(endpoints=self),
                name="upload-status",
            ),
        ]

"""The web demo's site: the browser upload page of `producer_lib.django.UploadEndpoints`
(ticket, submit, status and the plain HTML+JS page), served by a Django project configured
here (tests/django_project is not installed) on gevent's WSGI server.

Every request is the one demo user: the demo has no login, and the page only ever sees
that user's results. The browser uploads straight to the stack's staging bucket with
presigned POSTs (the dev stack puts CORS on it, `Stack.provision`). Django and DRF come
with the `django` extra (`pip install 'upload-stream[django]'`, in `make install`).
"""

from __future__ import annotations

import secrets
from types import SimpleNamespace
from typing import Any

from upload_stream_cli.devstack.errors import MissingToolError

PAGE_PATH = "uploads/"
FILE_TYPES = ("passport", "id_card_front", "id_card_back", "selfie", "utility_bill")

# ROOT_URLCONF is this module; `DemoSite.start` fills it before the first request.
urlpatterns: list[Any] = []


def _configure_django() -> None:
    try:
        import django
        from django.conf import settings
    except ImportError as exc:
        raise MissingToolError(
            "the web demo needs Django and DRF: pip install 'upload-stream[django]'"
        ) from exc
    if settings.configured:
        return
    settings.configure(
        SECRET_KEY=secrets.token_urlsafe(32),  # per run: the ticket secret derives from it
        DEBUG=False,
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "[::1]"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["rest_framework"],
        # Sets the CSRF cookie; the upload views check the token themselves.
        MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
        DATABASES={},
        USE_TZ=True,
        REST_FRAMEWORK={"UNAUTHENTICATED_USER": None, "DEFAULT_PERMISSION_CLASSES": []},
    )
    django.setup()


def _demo_user_authentication(user_id: str) -> type[Any]:
    """A DRF authentication class under which every request is the demo user."""
    from rest_framework.authentication import BaseAuthentication

    class DemoUser(BaseAuthentication):  # type: ignore[misc]
        def authenticate(self, request: Any) -> tuple[Any, None]:
            return SimpleNamespace(pk=user_id, is_authenticated=True), None

    return DemoUser


class DemoSite:
    """The page and its three endpoints on `http://HOST:PORT/uploads/`."""

    def __init__(self, server: Any, endpoints: Any) -> None:
        self._server = server
        self._endpoints = endpoints

    @classmethod
    def start(
        cls,
        *,
        kafka: dict[str, str],
        s3: Any,
        staging_bucket: str,
        staging_prefix: str,
        requests_topic: str,
        results_topic: str,
        user_id: str,
        file_category: str,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> DemoSite:
        """Configure Django, follow the results topic, then listen (port 0: any free one)."""
        _configure_django()
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application
        from django.urls import include, path
        from gevent.pywsgi import WSGIServer

        from producer_lib.django import UploadEndpoints
        from producer_lib.publisher import RequestPublisher
        from producer_lib.result_board import ResultBoard
        from producer_lib.s3_staging import S3Stager
        from producer_lib.tickets import StagingTickets
        from upload_engine.settings import EngineSettings

        secret = f"upload-stream:{settings.SECRET_KEY}".encode()
        endpoints = UploadEndpoints(
            secret=secret,
            file_types=FILE_TYPES,
            file_category=file_category,
            tickets=StagingTickets(
                stager=S3Stager(staging_bucket, staging_prefix, client=s3),
                secret=secret,
                max_file_bytes=EngineSettings().max_file_bytes,
            ),
            publisher=RequestPublisher(kafka, topic=requests_topic),
            board=ResultBoard(kafka, topic=results_topic),
            authentication_classes=[_demo_user_authentication(user_id)],
        )
        try:
            endpoints.board  # noqa: B018 - follows the results from now on, before any submit
            urlpatterns[:] = [path(PAGE_PATH, include(endpoints.urls()))]
            server = WSGIServer((host, port), get_wsgi_application(), log=None)
            server.start()
        except BaseException:
            endpoints.close()
            raise
        return cls(server, endpoints)

    @property
    def url(self) -> str:
        host, port = self._server.address[:2]
        return f"http://{host}:{port}/{PAGE_PATH}"

    def close(self) -> None:
        """Stop listening, then close the publisher and the results follower."""
        self._server.stop(timeout=5)
        self._endpoints.close()

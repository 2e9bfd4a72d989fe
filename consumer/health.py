"""HTTP endpoints for the orchestrator and Prometheus: /metrics, /healthz, /readyz.

Served by gevent's WSGI server on the same hub: it never touches Kafka, it only reads
the registry and a readiness callable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from gevent.pywsgi import WSGIServer
from prometheus_client import CollectorRegistry, make_wsgi_app

StartResponse = Callable[..., Any]


def make_app(registry: CollectorRegistry, ready: Callable[[], bool]) -> Any:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if path == "/readyz":
            ok = ready()
            start_response(
                "200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")]
            )
            return [b"ready\n" if ok else b"not ready\n"]
        if path == "/metrics":
            body: Iterable[bytes] = metrics(environ, start_response)
            return body
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return app


def serve(host: str, port: int, registry: CollectorRegistry, ready: Callable[[], bool]) -> Any:
    """Start serving in the background; returns the server (`.stop()`, `.server_port`)."""
    server = WSGIServer((host, port), make_app(registry, ready), log=None)
    server.start()
    return server

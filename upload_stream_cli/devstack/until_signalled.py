"""Run a started gevent WSGI server until SIGTERM or SIGINT, then stop it.

Shared by the dev stack's moto server and the benchmark's latency server; both are
programs run with -m that monkey-patch before importing this.
"""

from __future__ import annotations

import signal

import gevent
from gevent.event import Event
from gevent.pywsgi import WSGIServer


def serve_until_signalled(server: WSGIServer) -> None:
    stop = Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, stop.set)
    stop.wait()
    server.stop(timeout=2)

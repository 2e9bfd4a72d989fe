"""The dev stack's WSGI server turns Nagle off on every connection it handles, so a
response's body is not held back ~40 ms behind its headers (upload_stream_cli/devstack/
wsgi_server.py says what that cost)."""

from __future__ import annotations

import socket
from typing import Any, ClassVar

from upload_stream_cli.devstack.wsgi_server import NoDelayWSGIServer


class RecordingSocket:
    def __init__(self) -> None:
        self.options: list[tuple[int, int, int]] = []

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.options.append((level, option, value))


class NoHandler:
    handled: ClassVar[list[Any]] = []

    def __init__(self, sock: Any, address: Any, server: Any) -> None:
        self.sock = sock

    def handle(self) -> None:
        NoHandler.handled.append(self.sock)


def test_each_connection_is_handled_with_tcp_nodelay() -> None:
    server = NoDelayWSGIServer(("127.0.0.1", 0), lambda environ, start: [], log=None)
    server.handler_class = NoHandler
    sock = RecordingSocket()
    server.handle(sock, ("127.0.0.1", 1))
    assert sock.options == [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    assert NoHandler.handled == [sock]  # and then handled as pywsgi would

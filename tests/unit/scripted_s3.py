"""A tiny keep-alive HTTP server for the fast-PUT tests (no tests in here).

It records every request as received on the socket (request line, headers in order, body)
and answers each with whatever `respond(request)` returns: a `Reply`, `RESET` (close with
a TCP reset, no answer), or `Stall(seconds)` (answer nothing for that long). With
`keep_alive = False` every answer closes its connection. Without a
`respond`, every PUT gets 200 with an ETag and a version id. Runs in the test process:
the tests are monkey-patched, so it serves from greenlets.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

import gevent
import gevent.pool
from gevent.server import StreamServer


@dataclass
class Received:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    @property
    def from_botocore(self) -> bool:
        """botocore adds an invocation id to every request; the fast path does not."""
        return self.header("amz-sdk-invocation-id") is not None

    @property
    def signing_region(self) -> str:
        auth = self.header("Authorization") or ""
        return auth.split("Credential=")[1].split("/")[2]


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Stall:
    seconds: float


RESET = object()
Action = Reply | Stall | object


def ok(request: Received) -> Reply:
    etag = hashlib.md5(request.body, usedforsecurity=False).hexdigest()
    return Reply(200, {"ETag": f'"{etag}"', "x-amz-version-id": f"v-{etag[:8]}"})


def s3_error(status: int, code: str, **extra_headers: str) -> Reply:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>scripted</Message>"
        "<RequestId>req-1</RequestId></Error>"
    ).encode()
    return Reply(status, {"Content-Type": "application/xml", **extra_headers}, body)


_REASONS = {200: "OK", 301: "Moved Permanently", 403: "Forbidden", 404: "Not Found"}


class ScriptedS3:
    def __init__(
        self,
        respond: Callable[[Received], Action] = ok,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.respond = respond
        self.keep_alive = True  # False: every answer closes its connection
        self.received: list[Received] = []
        self._tls = ssl_context
        # A pool, so that stop() also ends kept-alive connections (their handlers).
        self._server = StreamServer(("127.0.0.1", 0), self._serve, spawn=gevent.pool.Pool())
        self._server.start()
        scheme = "https" if ssl_context else "http"
        self.endpoint = f"{scheme}://127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        """Closes the port and every open connection: what follows is refused."""
        self._server.stop(timeout=0.01)

    @property
    def fast(self) -> list[Received]:
        return [r for r in self.received if not r.from_botocore]

    def _serve(self, sock: socket.socket, _address: object) -> None:
        if self._tls is not None:
            try:  # here, not in StreamServer: a refused handshake is no server error
                sock = self._tls.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError):
                sock.close()
                return
        reader = sock.makefile("rb")
        try:
            while (request := _read_request(reader)) is not None:
                self.received.append(request)
                action = self.respond(request)
                if isinstance(action, Stall):
                    gevent.sleep(action.seconds)
                    return
                if action is RESET:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                assert isinstance(action, Reply)
                if not self.keep_alive:
                    headers = {**action.headers, "Connection": "close"}
                    action = Reply(action.status, headers, action.body)
                sock.sendall(_encode(action))
                if not self.keep_alive:
                    return
        except (ConnectionError, OSError):
            return
        finally:
            reader.close()
            sock.close()


def _read_request(reader: BinaryIO) -> Received | None:
    line = reader.readline()
    if not line:
        return None
    method, target, _version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers: list[tuple[str, str]] = []
    while (raw := reader.readline().decode("latin-1").rstrip("\r\n")) != "":
        name, _, value = raw.partition(":")
        headers.append((name, value.strip()))
    length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
    body = reader.read(length) if length else b""
    return Received(method, target, headers, body)


def _encode(reply: Reply) -> bytes:
    head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Scripted')}"]
    headers = {"Content-Length": str(len(reply.body)), **reply.headers}
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body

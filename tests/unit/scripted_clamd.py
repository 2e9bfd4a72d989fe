"""A scripted clamd on a unix socket, for unit tests of the gate's protocol handling.

It speaks just enough of clamd(8): `zVERSION`, and `zINSTREAM` with length-prefixed chunks
ended by a zero length, then answers what the test scripted (`reply(received) -> bytes`).
The real clamd is in tests/integration/upload_engine/test_clamd_http.py.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from gevent.server import StreamServer

VERSION = b"ClamAV 9.9.9/12345/Thu Jan  1 00:00:00 2026"


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


class ScriptedClamd:
    def __init__(self, path: Path, reply: Callable[[bytes], bytes]) -> None:
        self.address = f"unix://{path}"
        self.reply = reply
        self.received: list[bytes] = []
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen(16)
        self._server = StreamServer(listener, self._handle)

    def _handle(self, conn: socket.socket, _address: object) -> None:
        command = b""
        while not command.endswith(b"\0"):
            command += _read_exactly(conn, 1)
        if command == b"zVERSION\0":
            conn.sendall(VERSION + b"\0")
            return
        body = b""
        while size := struct.unpack("!L", _read_exactly(conn, 4))[0]:
            body += _read_exactly(conn, size)
        self.received.append(body)
        conn.sendall(self.reply(body))

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()


@contextmanager
def scripted_clamd(path: Path, reply: Callable[[bytes], bytes]) -> Iterator[ScriptedClamd]:
    server = ScriptedClamd(path, reply)
    server.start()
    try:
        yield server
    finally:
        server.stop()

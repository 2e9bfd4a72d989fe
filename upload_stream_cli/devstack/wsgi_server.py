"""`NoDelayWSGIServer`: gevent's pywsgi server with Nagle's algorithm off on every
connection.

pywsgi sends a response's headers and its body in separate writes. With Nagle on, the
body waits for the client to acknowledge the headers, and the client delays that ACK by
~40 ms (Linux's delayed ACK): measured on moto here, a ranged GET of 8 KiB and a
CopyObject took 44 and 48 ms against 2.3 ms for a HEAD (no body). S3 itself answers
without that stall, so the dev stack's and the benchmarks' servers must too.
"""

from __future__ import annotations

import socket
from typing import Any

from gevent.pywsgi import WSGIServer


class NoDelayWSGIServer(WSGIServer):  # type: ignore[misc]
    def handle(self, sock: Any, address: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)

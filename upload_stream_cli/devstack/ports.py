"""Loopback ports for the local stack. Everything binds to 127.0.0.1 only, never 0.0.0.0."""

from __future__ import annotations

import contextlib
import http.client
import socket

LOOPBACK = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """Return `count` distinct ports that were free on the loopback interface a moment ago.

    All sockets stay open until every port is picked, so the kernel cannot hand out the same
    port twice. Another process may still take one before our server binds it; the launchers
    retry with new ports when that happens.
    """
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((LOOPBACK, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def free_port() -> int:
    """Return one port that was free on the loopback interface a moment ago."""
    return free_ports(1)[0]


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port (a cheap readiness probe)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_answers(port: int, path: str = "/", host: str = LOOPBACK) -> bool:
    """True when an HTTP server on host:port answers `GET path`, whatever its status."""
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", path)
        conn.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        conn.close()

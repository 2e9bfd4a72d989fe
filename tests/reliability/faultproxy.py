"""A fault-injecting HTTP proxy in front of an S3 endpoint, for the reliability tests.

Run as a program, in its own process (standard library only, OS threads, no gevent)::

    python tests/reliability/faultproxy.py --upstream http://127.0.0.1:PORT --config JSON

It listens on 127.0.0.1 (a free port, printed as `PORT <n>` on stdout once listening) and
forwards every request to the upstream, except the ones it decides to break:

- `slowdown`: 503 with S3's `SlowDown` XML error body;
- `internal`: 500 with S3's `InternalError` XML error body;
- `denied`:   403 with S3's `AccessDenied` XML error body (only from a rule: it is permanent);
- `reset`:    reads the request, then resets the connection (RST, SO_LINGER 0);
- `stall`:    reads the request, says nothing for `stall_s` seconds (past the client's read
              timeout), then closes;
- `truncate`: forwards the request, then sends the upstream's headers with a body cut in
              half (Content-Length still announces the whole) and closes. HEAD answers have
              no body to cut, so a HEAD gets `reset` instead.

Configuration (JSON):

- `rate`, `faults`, `methods`: each request whose method is in `methods` is broken with
  probability `rate`, by a fault drawn from `faults` (the transient ones by default);
- `max_streak`: never more than this many faults in a row on one method + path, so a
  client with a larger retry budget always gets through (the tests' budget is stated);
- `rules`: `[{"method": "PUT", "path_regex": "/selfie/", "fault": "denied"}, ...]`, applied
  to every matching request (a permanent fault), before the random ones;
- `seed`: the decisions are a hash of (seed, method, path, how many times this method +
  path was seen), not a shared RNG stream, so they do not depend on how concurrent
  requests interleave: the same requests always meet the same faults.

`GET /__proxy__/stats` answers the counts (requests, forwarded, faults by kind) as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import re
import socket
import struct
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

TRANSIENT = ("slowdown", "internal", "reset", "stall", "truncate")
STATS_PATH = "/__proxy__/stats"
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
}
_ERRORS = {
    "slowdown": (503, "SlowDown", "Please reduce your request rate."),
    "internal": (500, "InternalError", "We encountered an internal error. Please try again."),
    "denied": (403, "AccessDenied", "Access Denied"),
}


@dataclass
class Rule:
    method: str
    path: re.Pattern[str]
    fault: str


@dataclass
class Plan:
    seed: int = 0
    rate: float = 0.0
    faults: tuple[str, ...] = TRANSIENT
    methods: frozenset[str] = frozenset({"GET", "PUT", "HEAD", "POST"})
    max_streak: int = 3
    stall_s: float = 3.0
    rules: list[Rule] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Plan:
        rules = [
            Rule(r.get("method", "*").upper(), re.compile(r["path_regex"]), r["fault"])
            for r in raw.get("rules", [])
        ]
        return cls(
            seed=int(raw.get("seed", 0)),
            rate=float(raw.get("rate", 0.0)),
            faults=tuple(raw.get("faults", TRANSIENT)),
            methods=frozenset(m.upper() for m in raw.get("methods", cls.methods)),
            max_streak=int(raw.get("max_streak", 3)),
            stall_s=float(raw.get("stall_s", 3.0)),
            rules=rules,
        )


class State:
    def __init__(self, plan: Plan, upstream: tuple[str, int]) -> None:
        self.plan = plan
        self.upstream = upstream
        self.lock = threading.Lock()
        self.seen: Counter[tuple[str, str]] = Counter()
        self.streak: Counter[tuple[str, str]] = Counter()
        self.stats: Counter[str] = Counter()

    def _draw(self, method: str, path: str, n: int) -> tuple[float, int]:
        digest = hashlib.sha256(f"{self.plan.seed}|{method}|{path}|{n}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64, digest[8]

    def decide(self, method: str, path: str) -> str | None:
        plan = self.plan
        with self.lock:
            self.stats["requests"] += 1
            for rule in plan.rules:
                if rule.method in ("*", method) and rule.path.search(path):
                    self.stats[rule.fault] += 1
                    self.stats["permanent"] += 1
                    return rule.fault
            where = (method, path)
            n = self.seen[where]
            self.seen[where] += 1
            if method not in plan.methods or not plan.faults:
                return None
            u, pick = self._draw(method, path, n)
            if u >= plan.rate or self.streak[where] >= plan.max_streak:
                self.streak[where] = 0
                return None
            self.streak[where] += 1
            fault = plan.faults[pick % len(plan.faults)]
            if fault == "truncate" and method == "HEAD":
                fault = "reset"
            self.stats[fault] += 1
            self.stats["transient"] += 1
            return fault


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_HEAD = do_DELETE = do_GET

    def finish(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # reset or closed on purpose
            super().finish()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        state = self.server.state
        body = self._read_body()
        if self.path == STATS_PATH:
            self._send(200, json.dumps(dict(state.stats)).encode(), "application/json")
            return
        fault = state.decide(self.command, self.path)
        if fault in _ERRORS:
            self._error(fault)
        elif fault == "reset":
            self._reset()
        elif fault == "stall":
            time.sleep(state.plan.stall_s)
            self.close_connection = True
            self.connection.close()
        else:
            self._forward(body, truncate=fault == "truncate")

    def _error(self, fault: str) -> None:
        status, code, message = _ERRORS[fault]
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<Resource>{self.path.split('?')[0]}</Resource>"
            "<RequestId>FAULTPROXY</RequestId></Error>"
        ).encode()
        self._send(status, b"" if self.command == "HEAD" else xml, "application/xml")

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _reset(self) -> None:
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _forward(self, body: bytes, *, truncate: bool) -> None:
        state = self.server.state
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        conn = http.client.HTTPConnection(*state.upstream, timeout=60)
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            upstream_headers = response.getheaders()
            status = response.status
        finally:
            conn.close()
        with state.lock:
            state.stats["forwarded"] += 1
        self.send_response(status)
        for name, value in upstream_headers:
            if name.lower() in _HOP_BY_HOP or name.lower() in ("date", "server"):
                continue
            if name.lower() == "content-length" and self.command != "HEAD":
                continue
            self.send_header(name, value)
        if self.command != "HEAD":
            announced = max(len(data), 64) if truncate else len(data)
            self.send_header("Content-Length", str(announced))
        self.end_headers()
        if self.command == "HEAD":
            return
        if truncate:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.close()
            return
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    state: State


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="http://host:port of the S3 endpoint")
    parser.add_argument("--config", default="{}", help="the fault plan, JSON")
    args = parser.parse_args(argv)
    upstream = urlsplit(args.upstream)
    if upstream.scheme != "http" or not upstream.hostname or not upstream.port:
        parser.error("--upstream must be http://host:port")
    server = Server(("127.0.0.1", 0), Handler)
    server.state = State(Plan.parse(json.loads(args.config)), (upstream.hostname, upstream.port))
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

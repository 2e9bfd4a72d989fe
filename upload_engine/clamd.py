"""clamd's INSTREAM protocol, pushed chunk by chunk from the engine's read loop.

Hand-written (~150 lines) because no kept client fits: clamav-client (and the older clamd
and pyclamd it descends from) take a file object and read it to the end inside one call
in fixed 1 KiB chunks, so the engine would have to hand its read loop to a second thread
or greenlet through a pipe, and pay 1,024 sendall calls per MiB. Here the caller pushes
the chunks it already holds (`Scan.send`) and asks for the verdict at the end
(`Scan.verdict`). The protocol (clamd(8)): `zINSTREAM\\0`, then chunks each prefixed by
its length as 4 bytes big-endian, then a zero length; the reply ends in a NUL.

Sockets come from the `socket` module as imported: cooperative under gevent's
monkey-patching (the consumer), plain blocking sockets on OS threads otherwise (the engine
then runs files on threads). Every call is bounded by `timeout_s`.

"Not scanned" never reads as clean: `verdict()` is CLEAN only for `stream: OK` after the
whole file was sent, and more than 0 bytes of it. Size limits (`INSTREAM size limit
exceeded`, or with `AlertExceedsMax` a `Heuristics.Limits.Exceeded.*` or `(null)` name,
see clamd's issues #541 and #720 in the README), errors, timeouts and unknown answers are
all FAILED, never CLEAN.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

_CHUNK = 1024 * 1024
_MAX_REPLY = 4096
_END = struct.pack("!L", 0)


class ClamdAddressError(ValueError):
    """`UPLOAD_STREAM_CLAMD_ADDRESS` is not `unix:///path` or `tcp://host:port`."""


@dataclass(frozen=True)
class ClamdAddress:
    family: socket.AddressFamily
    target: str | tuple[str, int]

    @classmethod
    def parse(cls, text: str) -> ClamdAddress:
        parts = urlsplit(text)
        if parts.scheme == "unix" and parts.path and not parts.netloc:
            return cls(socket.AF_UNIX, parts.path)
        if parts.scheme == "tcp" and parts.hostname and parts.port and parts.path in ("", "/"):
            return cls(socket.AF_INET6 if ":" in parts.hostname else socket.AF_INET,
                       (parts.hostname, parts.port))  # fmt: skip
        raise ClamdAddressError("clamd address must be unix:///path/clamd.ctl or tcp://host:3310")

    def __str__(self) -> str:
        if isinstance(self.target, str):
            return f"unix://{self.target}"
        return f"tcp://{self.target[0]}:{self.target[1]}"


class Outcome(StrEnum):
    CLEAN = "clean"
    FOUND = "malware"
    FAILED = "failed"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    # FOUND: the signature name; FAILED: why, safe to publish (clamd's words, bounded).
    detail: str
    bytes_sent: int
    seconds: float


class ClamdUnavailableError(Exception):
    """clamd could not be reached or stopped answering; the message says which."""


def _reply_text(raw: bytes) -> str:
    text = raw.split(b"\0", 1)[0].decode("utf-8", errors="replace").strip()
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:256]


def parse_instream_reply(reply: str) -> tuple[Outcome, str]:
    """clamd's answer to one INSTREAM, as an outcome and its detail."""
    body = reply.removeprefix("stream:").strip()
    if body == "OK":
        return Outcome.CLEAN, ""
    if body.endswith(" FOUND"):
        name = body.removesuffix(" FOUND").strip()
        if not name or name == "(null)" or name.startswith("Heuristics.Limits.Exceeded"):
            # clamd stopped scanning at one of its limits: not a verdict on the file.
            return Outcome.FAILED, f"clamd stopped at a limit: {name or 'no name'}"
        return Outcome.FOUND, name
    if "size limit exceeded" in body:
        return Outcome.FAILED, "clamd's INSTREAM size limit (StreamMaxLength) exceeded"
    return Outcome.FAILED, f"clamd answered {reply!r}" if reply else "clamd answered nothing"


class Clamd:
    """Where clamd listens and how long any one call may take."""

    def __init__(self, address: ClamdAddress, *, timeout_s: float, connect_timeout_s: float):
        self.address = address
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s

    def connect(self) -> socket.socket:
        sock = socket.socket(self.address.family, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.connect_timeout_s)
            sock.connect(self.address.target)
            sock.settimeout(self.timeout_s)
        except OSError as exc:
            sock.close()
            raise ClamdUnavailableError(f"cannot connect to clamd: {type(exc).__name__}") from None
        return sock

    def command(self, name: str) -> str:
        """A one-line command (`VERSION`, `PING`) on a connection of its own."""
        sock = self.connect()
        try:
            sock.sendall(b"z" + name.encode("ascii") + b"\0")
            return _reply_text(_read_reply(sock))
        except OSError as exc:
            raise ClamdUnavailableError(f"clamd {name}: {type(exc).__name__}") from None
        finally:
            sock.close()

    def scan(self) -> Scan:
        return Scan(self)


def _read_reply(sock: socket.socket) -> bytes:
    reply = b""
    while b"\0" not in reply and len(reply) < _MAX_REPLY:
        data = sock.recv(_MAX_REPLY)
        if not data:
            break
        reply += data
    return reply


class Scan:
    """One INSTREAM: `send` every byte of the file, then `verdict()`; `close()` always."""

    def __init__(self, clamd: Clamd) -> None:
        self._clamd = clamd
        self._sock: socket.socket | None = None
        self._sent = 0
        self._seconds = 0.0
        self._failed: str | None = None

    @property
    def bytes_sent(self) -> int:
        return self._sent

    @property
    def failed(self) -> str | None:
        """Why the stream broke off (no verdict can be clean any more), or None."""
        return self._failed

    def send(self, data: bytes) -> None:
        if self._failed is not None or not data:
            return
        started = time.perf_counter()
        try:
            if self._sock is None:
                self._sock = self._clamd.connect()
                self._sock.sendall(b"zINSTREAM\0")
            view = memoryview(data)
            for offset in range(0, len(view), _CHUNK):
                piece = view[offset : offset + _CHUNK]
                self._sock.sendall(struct.pack("!L", len(piece)))
                self._sock.sendall(piece)
            self._sent += len(data)
        except ClamdUnavailableError as exc:
            self._failed = str(exc)
        except OSError as exc:
            # clamd closes the stream when it goes over StreamMaxLength: its reply says so.
            self._failed = self._reason_after_send_error(exc)
        finally:
            self._seconds += time.perf_counter() - started

    def _reason_after_send_error(self, exc: OSError) -> str:
        reply = b""
        if self._sock is not None and not isinstance(exc, TimeoutError):
            try:
                self._sock.settimeout(0.5)
                reply = _read_reply(self._sock)
            except OSError:
                pass
        if reply:
            return parse_instream_reply(_reply_text(reply))[1]
        return f"clamd stopped taking the stream: {type(exc).__name__}"

    def verdict(self, expected_bytes: int) -> Verdict:
        """The verdict on the whole file; CLEAN only if all `expected_bytes` were sent."""
        if self._failed is None and (self._sent == 0 or self._sent != expected_bytes):
            self._failed = (
                "nothing to scan: an empty file is never reported clean"
                if expected_bytes == 0
                else f"sent {self._sent} of {expected_bytes} bytes to clamd"
            )
        if self._failed is not None:
            return Verdict(Outcome.FAILED, self._failed, self._sent, self._seconds)
        assert self._sock is not None
        started = time.perf_counter()
        try:
            self._sock.sendall(_END)
            reply = _reply_text(_read_reply(self._sock))
        except OSError as exc:
            reply = ""
            outcome, detail = Outcome.FAILED, f"no verdict from clamd: {type(exc).__name__}"
        else:
            outcome, detail = parse_instream_reply(reply)
        finally:
            self._seconds += time.perf_counter() - started
        return Verdict(outcome, detail, self._sent, self._seconds)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

"""The content gate: a file's bytes must be what it claims, and free of known malware,
before it becomes visible (docs/contract/upload-events-v1.md, "The content gate").

`ContentGate` is the engine's (one libmagic handle, one clamd address); `FileGate` is one
file's pass. The uploader feeds it every chunk of the read that already hashes the file,
before that chunk goes anywhere, and calls `finish()` before the single PUT, before
completing a multipart upload, and before a server-side copy:

- the type check runs once `HEAD_BYTES` have arrived (or at the end of a smaller file),
  so a mismatched multipart file fails before its first part is sent;
- every chunk is pushed to clamd as it comes; a scanner that fails mid-stream fails the
  file at once (`scan_failed`), and `finish()` waits for the verdict on the whole file.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from schemas import FileFailureCode, ScanReport, ScanVerdict
from upload_engine.clamd import Clamd, ClamdAddress, ClamdUnavailableError, Outcome, Scan, Verdict
from upload_engine.classify import safe_repr
from upload_engine.content_type import HEAD_BYTES, TypeChecker
from upload_engine.errors import FileError
from upload_engine.settings import EngineSettings

log = logging.getLogger(__name__)
C = FileFailureCode

#: Called once per scanned file: outcome ("clean", "malware", "failed"), seconds spent
#: talking to clamd, bytes sent to it. The consumer feeds its metrics from it.
ScanObserver = Callable[[str, float, int], None]

# clamd reloads its databases in place (freshclam); its VERSION is asked again this often.
_VERSION_TTL_S = 60.0


@dataclass(frozen=True)
class GateReport:
    """What was checked, for the StoredObject."""

    detected_content_type: str | None = None
    scan: ScanReport | None = None


def split_version(reply: str) -> tuple[str, str | None]:
    """`ClamAV 1.4.6/27845/Tue Dec  1 08:27:15 2026` -> scanner, database version."""
    scanner, _, database = reply.partition("/")
    return scanner.strip(), (database.strip() or None)


class GateRead(enum.Enum):
    """How much of a file's bytes the gate reads: of a server-side copy, that is a GET."""

    NOTHING = "nothing"
    HEAD = "head"  # the first HEAD_BYTES: the type check
    ALL = "all"  # every byte: the malware scan


class ContentGate:
    def __init__(self, settings: EngineSettings, observer: ScanObserver | None = None) -> None:
        self._types = TypeChecker() if settings.type_check else None
        self._clamd: Clamd | None = None
        if settings.clamd_address:
            self._clamd = Clamd(
                ClamdAddress.parse(settings.clamd_address),
                timeout_s=settings.clamd_timeout_s,
                connect_timeout_s=settings.clamd_connect_timeout_s,
            )
        self._observer = observer
        self._version: tuple[float, str, str | None] | None = None

    @property
    def type_check(self) -> bool:
        return self._types is not None

    @property
    def scanning(self) -> bool:
        return self._clamd is not None

    @property
    def reads(self) -> GateRead:
        if self.scanning:
            return GateRead.ALL
        return GateRead.HEAD if self.type_check else GateRead.NOTHING

    def open(self, declared_content_type: str) -> FileGate:
        scan = self._clamd.scan() if self._clamd is not None else None
        return FileGate(self, declared_content_type, self._types, scan)

    def observe(self, verdict: Verdict) -> None:
        if self._observer is not None:
            self._observer(verdict.outcome.value, verdict.seconds, verdict.bytes_sent)

    def scanner_version(self) -> tuple[str, str | None]:
        """clamd's VERSION, cached for a minute; `scan_failed` when it cannot be had."""
        assert self._clamd is not None
        now = time.monotonic()
        if self._version is None or now - self._version[0] > _VERSION_TTL_S:
            try:
                scanner, database = split_version(self._clamd.command("VERSION"))
            except ClamdUnavailableError as exc:
                if self._version is None:
                    raise FileError(C.SCAN_FAILED, f"clamd VERSION: {exc}") from None
                scanner, database = self._version[1], self._version[2]
            self._version = (now, scanner, database)
        return self._version[1], self._version[2]


class FileGate:
    """One file's pass through the gate; always `close()` it."""

    def __init__(
        self, gate: ContentGate, declared: str, types: TypeChecker | None, scan: Scan | None
    ) -> None:
        self._gate = gate
        self._declared = declared
        self._types = types
        self._scan = scan
        self._head = b""
        self._detected: str | None = None

    @property
    def wants_all_bytes(self) -> bool:
        """True when every byte must pass (scanning); else the head is enough."""
        return self._scan is not None

    def feed(self, data: bytes) -> None:
        """The next chunk of the file, before it is sent anywhere."""
        if self._types is not None and self._detected is None:
            self._head += data[: HEAD_BYTES - len(self._head)]
            if len(self._head) >= HEAD_BYTES:
                self._check_type()
        if self._scan is not None:
            self._scan.send(data)
            if self._scan.failed is not None:
                self._fail_scan(self._scan.verdict(-1))

    def _check_type(self) -> None:
        assert self._types is not None
        self._detected = self._types.check(self._declared, self._head)
        self._head = b""

    def finish(self, size: int) -> GateReport:
        """After the last chunk: the type check (if not done) and the scan verdict."""
        if self._types is not None and self._detected is None:
            self._check_type()
        if self._scan is None:
            return GateReport(self._detected, None)
        verdict = self._scan.verdict(size)
        if verdict.outcome is not Outcome.CLEAN:
            self._fail_scan(verdict)
        self._gate.observe(verdict)
        scanner, database = self._gate.scanner_version()
        report = ScanReport(scanner=scanner, verdict=ScanVerdict.CLEAN, database_version=database)
        return GateReport(self._detected, report)

    def _fail_scan(self, verdict: Verdict) -> None:
        self._gate.observe(verdict)
        if verdict.outcome is Outcome.FOUND:
            raise FileError(C.MALWARE_DETECTED, f"clamd found {safe_repr(verdict.detail, 120)}")
        # The detail is ours or clamd's reply made printable and bounded (clamd.py).
        raise FileError(C.SCAN_FAILED, verdict.detail[:200])

    def close(self) -> None:
        if self._scan is not None:
            self._scan.close()

"""A real clamd for the tests and benchmarks: Debian's `clamav-daemon` binary, run in the
foreground in a temp dir with its own clamd.conf and signature database.

freshclam cannot reach its mirrors from CI machines, so the caller hands in the database
files by name and text: e.g. `local.hdb` with a line `md5:size:Name` for the EICAR test
file, and `local.ndb` with `Name:0:*:hex` to find it inside a bigger file, both built at
run time. clamd listens on a unix socket in its work dir and on a loopback TCP port.
`StreamMaxLength` (and the scan limits with it) is small by default, so a test can go past
it with a few MiB. `AlertExceedsMax` is on, as it should be in production: a file over a
scan limit is then reported, never silently "OK" (the engine treats it as scan_failed).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from upload_stream_cli.devstack.errors import MissingToolError, StackError
from upload_stream_cli.devstack.lifecycle import ChildProcessService
from upload_stream_cli.devstack.ports import LOOPBACK, free_port
from upload_stream_cli.devstack.process import launch, make_workdir, tail

CLAMD_CANDIDATES = ("clamd", "/usr/sbin/clamd")
#: Room for a multipart file (the engine's threshold is at least 5 MiB) and small enough to
#: go past with a test file.
CLAMD_TEST_STREAM_MAX_BYTES = 16 * 1024 * 1024


def find_clamd() -> str:
    for candidate in CLAMD_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise MissingToolError(
        "clamd is not installed: install Debian's clamav-daemon (`apt-get install "
        "clamav-daemon`) or point UPLOAD_STREAM_CLAMD_ADDRESS at a running clamd"
    )


def scratch_dir(workdir: Path) -> Path:
    """Where clamd writes each stream before scanning it: tmpfs when there is one. On
    these machines that cut clamd's time per small stream about threefold (bench: engine
    --gate); the README suggests the same for production."""
    shm = Path("/dev/shm")  # noqa: S108 - mkdtemp below: a private, unique directory
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix=f"upload-stream-clamd-{workdir.name}-", dir=shm))
    (workdir / "tmp").mkdir(exist_ok=True)
    return workdir / "tmp"


def clamd_config(workdir: Path, port: int, stream_max_bytes: int, scratch: Path) -> str:
    limit = f"{max(1, stream_max_bytes // 1024)}K"
    lines = {
        "Foreground": "yes",
        "LocalSocket": str(workdir / "clamd.sock"),
        "TCPSocket": str(port),
        "TCPAddr": LOOPBACK,
        "DatabaseDirectory": str(workdir / "db"),
        "TemporaryDirectory": str(scratch),
        "LogFile": str(workdir / "clamd.log"),
        "PidFile": str(workdir / "clamd.pid"),
        "StreamMaxLength": limit,
        "MaxScanSize": limit,
        "MaxFileSize": limit,
        "AlertExceedsMax": "yes",
        "MaxThreads": "12",
        "SelfCheck": "0",
        "OfficialDatabaseOnly": "no",
    }
    return "".join(f"{key} {value}\n" for key, value in lines.items())


class ClamdServer(ChildProcessService):
    """`with ClamdServer({"local.hdb": line}) as clamd:` then `clamd.unix_address` or
    `clamd.tcp_address` (values for UPLOAD_STREAM_CLAMD_ADDRESS). `stop()` and `start()`
    again keep the same socket, port and database (a restart, as an outage would end)."""

    def __init__(
        self,
        databases: Mapping[str, str],
        *,
        stream_max_bytes: int = 4 * 1024 * 1024,
        start_timeout: float = 60.0,
    ) -> None:
        self.databases = dict(databases)
        self.stream_max_bytes = stream_max_bytes
        self.start_timeout = start_timeout
        self.port = 0
        self._workdir: Path | None = None
        self._scratch: Path | None = None

    @property
    def socket_path(self) -> Path:
        if self._workdir is None:
            raise StackError("clamd is not started")
        return self._workdir / "clamd.sock"

    @property
    def unix_address(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def tcp_address(self) -> str:
        return f"tcp://{LOOPBACK}:{self.port}"

    def start(self) -> Self:
        binary = find_clamd()
        if self._workdir is None:
            self.port = free_port()
            workdir = make_workdir("clamd", str(self.port))
            self._workdir = workdir
            (workdir / "db").mkdir()
            self._scratch = scratch_dir(workdir)
            for name, text in self.databases.items():
                (workdir / "db" / Path(name).name).write_text(text, encoding="utf-8")
            (workdir / "clamd.conf").write_text(
                clamd_config(workdir, self.port, self.stream_max_bytes, self._scratch),
                encoding="utf-8",
            )
        workdir = self._workdir
        self.socket_path.unlink(missing_ok=True)
        self._proc = launch(
            [binary, "--foreground", "--config-file", str(workdir / "clamd.conf")],
            log=workdir / "clamd.out",
            cwd=workdir,
        )
        self._await_ready("clamd", self._pong, self.start_timeout, self.log_tail, interval=0.1)
        return self

    def _pong(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(1.0)
                sock.connect(str(self.socket_path))
                sock.sendall(b"zPING\0")
                return sock.recv(16).startswith(b"PONG")
        except OSError:
            return False

    def log_tail(self) -> str:
        if self._workdir is None:
            return ""
        return tail(self._workdir / "clamd.out") + "\n" + tail(self._workdir / "clamd.log")

    def close(self) -> None:
        super().close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

"""A strict S3 endpoint for the tests: versitygw (Apache-2.0, Go) on its posix backend.

moto checks neither signatures nor checksums; versitygw checks both, and Content-MD5, as a
real S3 does (the measured differences are in the README, "A second S3 server"). It is
built once with `go install` into the cache dir (`$UPLOAD_STREAM_CACHE_DIR/bin`, like the
Kafka jars) and started as `versitygw --port 127.0.0.1:PORT --keep-alive posix
--versioning-dir V ROOT`. `--keep-alive`: without it every response closes its connection.
The root credentials go in through the environment, never argv (`ps` shows argv).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from upload_stream_cli.devstack.errors import MissingToolError, StackError
from upload_stream_cli.devstack.kafka import _file_lock, cache_dir
from upload_stream_cli.devstack.ports import LOOPBACK, free_port, http_answers
from upload_stream_cli.devstack.process import launch, make_workdir, run, tail
from upload_stream_cli.devstack.s3 import FAKE_AWS_ENV, REGION, LocalS3Server

VERSITYGW_VERSION = "v1.8.0"
VERSITYGW_MODULE = "github.com/versity/versitygw/cmd/versitygw"

_GO_TIMEOUT = 900.0  # a cold module cache downloads ~200 modules; ~1 min on a warm one
_PORT_ATTEMPTS = 3


_GO_TARBALL = "/usr/local/go/bin/go"  # where the official Go tarball installs it


def find_go() -> str:
    """`go` on PATH, else the official tarball's."""
    go = shutil.which("go") or (_GO_TARBALL if os.access(_GO_TARBALL, os.X_OK) else None)
    if go is None:
        raise MissingToolError(
            "go is not on PATH: it builds versitygw, the strict S3 server of the tests "
            "(Go 1.21 or later; it fetches the toolchain versitygw needs)"
        )
    return go


def ensure_versitygw(version: str = VERSITYGW_VERSION, root: Path | None = None) -> Path:
    """The versitygw binary of `version`, built with `go install` into the cache if missing.

    The binary is moved into place only after the build succeeded, so a build cut short
    leaves nothing behind and is redone on the next call.
    """
    target = (root or cache_dir()) / "bin" / f"versitygw-{version}"
    if os.access(target, os.X_OK):
        return target
    go = find_go()
    with _file_lock(target.with_name(target.name + ".lock"), _GO_TIMEOUT + 60.0):
        if os.access(target, os.X_OK):  # another process finished while we waited
            return target
        with tempfile.TemporaryDirectory(dir=target.parent, prefix="go-") as work:
            build_log = Path(work) / "go.log"
            argv = [go, "install", f"{VERSITYGW_MODULE}@{version}"]
            env = {**os.environ, "GOBIN": work, "CGO_ENABLED": "0"}
            try:
                status = run(argv, log=build_log, timeout=_GO_TIMEOUT, cwd=Path(work), env=env)
            except subprocess.TimeoutExpired:
                raise StackError(
                    f"go install did not build versitygw {version} within {_GO_TIMEOUT} s"
                ) from None
            built = Path(work) / "versitygw"
            if status != 0 or not built.is_file():
                raise StackError(
                    f"go install could not build versitygw {version} (exit {status}):\n"
                    f"{tail(build_log)}"
                )
            built.replace(target)
    return target


class VersityGwServer(LocalS3Server):
    """versitygw on `http://127.0.0.1:PORT` with the fake credentials of `FAKE_AWS_ENV`
    (the same ones moto accepts, so clients need nothing else), in a child process that
    dies with this one. Buckets and objects live in its work dir, deleted by `close()`."""

    kind = "versitygw"

    def __init__(self, *, start_timeout: float = 30.0, stop_timeout: float = 10.0) -> None:
        self.port = 0
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._workdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._binary: Path | None = None

    def launch(self) -> None:
        """Build (once) and start the process without waiting for it."""
        if self.running:
            return
        self._binary = self._binary or ensure_versitygw()
        self.port = free_port()
        self._workdir = make_workdir("versitygw", str(self.port))
        for name in ("data", "versions"):
            (self._workdir / name).mkdir()
        argv = [
            str(self._binary),
            "--port",
            f"{LOOPBACK}:{self.port}",
            "--region",
            REGION,
            "--keep-alive",
            "--quiet",
            "posix",
            "--versioning-dir",
            str(self._workdir / "versions"),
            str(self._workdir / "data"),
        ]
        env = {
            **os.environ,
            "ROOT_ACCESS_KEY_ID": FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
            "ROOT_SECRET_ACCESS_KEY": FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        }
        self._proc = launch(argv, log=self._workdir / "versitygw.log", env=env)

    def wait_ready(self) -> None:
        """Wait for an HTTP answer; a lost port race is retried on a new port."""
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            try:
                self._wait_once()
                return
            except StackError:
                log_text = tail(self.log_path) if self.log_path else ""
                if "address already in use" not in log_text or attempt == _PORT_ATTEMPTS:
                    raise
                self.close()
                self.launch()

    def _wait_once(self) -> None:
        # Any HTTP answer will do: an unsigned request gets 403 AccessDenied.
        self._await_ready(
            "versitygw", lambda: http_answers(self.port), self.start_timeout, self._log_tail
        )


def main() -> int:
    """`python -m upload_stream_cli.devstack.versitygw`: build into the cache (if missing)
    and print the binary's path; `.ci/run` calls it so the build is not timed as a test."""
    try:
        print(ensure_versitygw())
    except StackError as exc:
        print(f"versitygw: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, MissingToolError) else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

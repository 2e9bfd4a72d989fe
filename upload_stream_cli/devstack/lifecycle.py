"""What every part of the local stack shares: `with part:` starts it and always closes it,
and a part that runs a child process reports whether that process is alive, waits for it to
answer, stops it and deletes its work dir."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from upload_stream_cli.devstack.errors import StackError
from upload_stream_cli.devstack.process import stop_process


class Service:
    """`start()` returns the started service; `close()` stops it and frees what it holds."""

    def start(self) -> Self:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ChildProcessService(Service):
    """A service backed by one child process (`_proc`, None before start) and a work dir
    (`_workdir`) that `close()` deletes."""

    _proc: subprocess.Popen[bytes] | None = None
    _workdir: Path | None = None
    stop_timeout: float = 10.0

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    def stop(self) -> None:
        """Stop the process (SIGTERM, SIGKILL after `stop_timeout`); safe to call twice."""
        if self._proc is not None:
            stop_process(self._proc, self.stop_timeout)
            self._proc = None

    def close(self) -> None:
        """Stop the process and delete its work dir."""
        self.stop()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def _await_ready(
        self,
        what: str,
        ready: Callable[[], bool],
        timeout: float,
        details: Callable[[], str],
        *,
        interval: float = 0.05,
    ) -> None:
        """Poll `ready()` until it is true. The process exiting first, or `timeout` passing
        (then it is stopped), raises `StackError` naming `what`, followed by `details()`
        (the end of its log)."""
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while True:
            status = self._proc.poll()
            if status is not None:
                self._proc = None
                raise StackError(f"{what} exited with status {status} during start-up\n{details()}")
            if ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise StackError(f"{what} did not answer within {timeout} s\n{details()}")
            time.sleep(interval)

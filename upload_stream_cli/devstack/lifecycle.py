"""What every part of the local stack shares: `with part:` starts it and always closes it,
and a part that runs a child process reports whether that process is alive."""

from __future__ import annotations

import subprocess
from types import TracebackType
from typing import Self


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
    """A service backed by one child process (`_proc`, None before start)."""

    _proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

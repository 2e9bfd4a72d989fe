"""Errors inside the upload engine.

`FileError` never leaves the engine: it is raised deep in a file's pipeline and turned
into that file's `FileFailure` at the file boundary, so `UploadEngine.upload` never raises
for a per-file problem.
"""

from __future__ import annotations

from typing import Any

from schemas import FileFailure, FileFailureCode, UnknownFileFailureCode


class EngineError(Exception):
    """Root of the engine's errors. `retryable` says whether trying again helps."""

    retryable = False


class EngineClosedError(EngineError):
    """`upload` was called after `close`."""


class StuckCallError(EngineError):
    """A blocking call given to `upload_engine.offload.offload` did not return by its
    deadline.

    `pending` is the call still running in its OS thread (a gevent `AsyncResult`; None in
    tests): whatever it blocks on must not be destroyed until that call returns.
    """

    def __init__(self, message: str, pending: Any = None) -> None:
        super().__init__(message)
        self.pending = pending


class FileError(EngineError):
    """One file failed with a contract code; the message is safe to log and to publish."""

    def __init__(self, code: FileFailureCode | UnknownFileFailureCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.retryable = code.retryable

    def failure(self) -> FileFailure:
        return FileFailure.of(self.code, self.message)

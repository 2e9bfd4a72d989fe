"""Errors inside the upload engine.

`FileError` never leaves the engine: it is raised deep in a file's pipeline and turned
into that file's `FileFailure` at the file boundary, so `UploadEngine.upload` never raises
for a per-file problem.
"""

from __future__ import annotations

from schemas import FileFailure, FileFailureCode, UnknownFileFailureCode


class EngineError(Exception):
    """Root of the engine's errors. `retryable` says whether trying again helps."""

    retryable = False


class EngineClosedError(EngineError):
    """`upload` was called after `close`."""


class FileError(EngineError):
    """One file failed with a contract code; the message is safe to log and to publish."""

    def __init__(self, code: FileFailureCode | UnknownFileFailureCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.retryable = code.retryable

    def failure(self) -> FileFailure:
        return FileFailure.of(self.code, self.message)

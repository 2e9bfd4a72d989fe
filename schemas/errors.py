"""Errors raised while reading events off the wire."""

from __future__ import annotations

from schemas.codes import RequestErrorCode


class SchemaError(Exception):
    """Root of every error this package raises."""


class RequestDecodeError(SchemaError):
    """An upload-request event could not be accepted.

    Carries the contract's request-level `code`, a `message` that names the offending
    field (never its value: values are hostile and end up in logs), and the `request_id`
    and `user_id` when those two could still be read, since then the request gets a
    failed result and not only a dead letter.
    """

    def __init__(
        self,
        code: RequestErrorCode,
        message: str,
        *,
        request_id: str | None = None,
        user_id: str | None = None,
    ) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id
        self.user_id = user_id

    @property
    def identifiable(self) -> bool:
        """Whether the request can be answered with a result (contract: UploadResult v1)."""
        return self.request_id is not None and self.user_id is not None


class ResultDecodeError(SchemaError):
    """A result event could not be read (downstream readers report it, not crash)."""


class InvalidKeyPartError(SchemaError, ValueError):
    """A part of a destination key breaks its rule (never raised for model-validated input)."""

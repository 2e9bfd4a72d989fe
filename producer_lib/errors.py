"""Errors of `AWSService` and its transports (the producer library's root is ProducerLibError)."""

from __future__ import annotations

from producer_lib.publish_errors import ProducerLibError


class AWSServiceError(ProducerLibError):
    """Root of the errors `AWSService` raises; per-file problems are never raised."""


class InvalidUploadError(AWSServiceError, ValueError):
    """The call as a whole cannot be uploaded (a bad user_id, category, file type or bucket).
    The message names the argument, never its value in full."""


class TransportUnavailableError(AWSServiceError):
    """The configured transport (`UPLOAD_STREAM_AWS_SERVICE_MODE`) cannot be used here."""

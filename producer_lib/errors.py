"""Errors of the producer library: staging, publishing, request/reply and AWSService.

Each says whether retrying can help and carries what the caller needs to follow up
(the request ids, the Kafka error name), never file contents or credentials.
"""

from __future__ import annotations

from collections.abc import Sequence


class ProducerLibError(Exception):
    """Root of the errors raised by the producer side of the library."""

    retryable: bool = False


class StagingError(ProducerLibError):
    """A blob could not be put into the staging area."""

    retryable = True


class PublishError(ProducerLibError):
    """The broker did not acknowledge one or more requests.

    `request_ids` are the requests that failed; `kafka_error` is librdkafka's error name
    (e.g. `_MSG_TIMED_OUT`, `_TRANSPORT`) when there is one. Staged blobs of these requests
    have been removed by the time the caller sees this.
    """

    def __init__(
        self,
        message: str,
        *,
        request_ids: Sequence[str] = (),
        kafka_error: str | None = None,
        retryable: bool = True,
    ) -> None:
        super().__init__(message)
        self.request_ids = tuple(request_ids)
        self.kafka_error = kafka_error
        self.retryable = retryable


class ReplyChannelError(ProducerLibError):
    """The reply consumer could not be set up or stopped working (e.g. topic missing)."""

    retryable = True


class ResultTimeout(ProducerLibError, TimeoutError):  # noqa: N818 - the name callers know
    """No result arrived in time. The request was published; look its result up later
    (`upload-stream results`, or a ResultReader) by `request_id`."""

    retryable = True

    def __init__(self, request_id: str, timeout: float) -> None:
        super().__init__(
            f"no result for request {request_id} within {timeout:g} s; it was published, "
            "so its result may still arrive on the reply topic"
        )
        self.request_id = request_id
        self.timeout = timeout


class ClientClosedError(ProducerLibError):
    """The UploadClient (or its reply router) was closed while a call was waiting."""


class InvalidUploadError(ProducerLibError, ValueError):
    """The call's arguments cannot make a contract-valid upload (a bad user_id, category,
    file type or bucket, or no files). The message names the argument, never its value."""


class ProducerConfigError(ProducerLibError, ValueError):
    """A setting is missing or invalid (the CLI exits 2 on it)."""


class AWSServiceError(ProducerLibError):
    """Root of the errors `AWSService` raises; per-file problems are never raised."""


class TransportUnavailableError(AWSServiceError):
    """The configured transport (`UPLOAD_STREAM_AWS_SERVICE_MODE`) cannot be used here."""

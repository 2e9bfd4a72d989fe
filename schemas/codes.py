"""The contract's code tables (upload-events-v1, "Codes") as enums.

The string values are wire values: other teams switch on them, so they never change.
"""

from __future__ import annotations

from enum import StrEnum


class FileFailureCode(StrEnum):
    """Why one file of a request failed (`failures[*].code`)."""

    SOURCE_NOT_ALLOWED = "source_not_allowed"
    SOURCE_NOT_FOUND = "source_not_found"
    SOURCE_UNREADABLE = "source_unreadable"
    SIZE_MISMATCH = "size_mismatch"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    TOO_LARGE = "too_large"
    CONTENT_TYPE_NOT_ALLOWED = "content_type_not_allowed"
    CONTENT_TYPE_MISMATCH = "content_type_mismatch"
    MALWARE_DETECTED = "malware_detected"
    SCAN_FAILED = "scan_failed"
    DESTINATION_DENIED = "destination_denied"
    DESTINATION_NOT_FOUND = "destination_not_found"
    THROTTLED = "throttled"
    TIMEOUT = "timeout"
    NETWORK_ERROR = "network_error"
    INTERNAL_ERROR = "internal_error"

    @property
    def retryable(self) -> bool:
        """Whether a retry can help, exactly as the contract's table says."""
        return self in _RETRYABLE


_RETRYABLE = frozenset(
    {
        FileFailureCode.THROTTLED,
        FileFailureCode.TIMEOUT,
        FileFailureCode.NETWORK_ERROR,
        FileFailureCode.INTERNAL_ERROR,
        FileFailureCode.SCAN_FAILED,
    }
)


KNOWN_FILE_FAILURE_CODES = frozenset(code.value for code in FileFailureCode)
FILE_FAILURE_CODE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class UnknownFileFailureCode(str):
    """A `failures[*].code` this version does not know, from a newer writer.

    The contract's rule for readers: such a failure is not retryable. It has `value` and
    `retryable` like a `FileFailureCode`, so code that reports codes needs no special case;
    the service itself never writes one.
    """

    __slots__ = ()

    @property
    def value(self) -> str:
        return str.__str__(self)

    @property
    def retryable(self) -> bool:
        return False


class RequestErrorCode(StrEnum):
    """Why a request was rejected as a whole (`error.code`, and `dlq_reason_code`)."""

    INVALID_JSON = "invalid_json"
    INVALID_REQUEST = "invalid_request"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    TOO_MANY_FILES = "too_many_files"
    BUCKET_NOT_ALLOWED = "bucket_not_allowed"
    REPLY_TOPIC_NOT_ALLOWED = "reply_topic_not_allowed"

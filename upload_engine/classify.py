"""Every error an upload can meet, mapped to exactly one contract code.

One table, one function: `classify(exc, side)`. `side` says which end of the transfer the
failing call talked to, because the same S3 error means different things there:
AccessDenied reading a staged blob is `source_unreadable`, writing the destination it is
`destination_denied`. `TRANSIENT` is the subset worth retrying inside the engine's budget;
past the budget the same code is reported (and is `retryable` on the wire).

Messages name the error class and S3 code only: never file contents, never credentials,
and hostile strings only through `safe_repr`.
"""

from __future__ import annotations

import errno
from enum import StrEnum

import urllib3.exceptions
from botocore import exceptions as bce

from schemas import FileFailure, FileFailureCode
from upload_engine.errors import FileError

C = FileFailureCode


class Side(StrEnum):
    SOURCE = "source"
    DESTINATION = "destination"


# S3 error codes (ClientError.response["Error"]["Code"]) by meaning.
_DENIED = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "AccountProblem",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "InvalidSecurity",
        "InvalidObjectState",
        "RequestTimeTooSkewed",
        "KMS.DisabledException",
        "KMS.NotFoundException",
        "KMS.KMSInvalidStateException",
        "KMS.AccessDeniedException",
        "KMSKeyNotAccessible",
        "403",
        "Forbidden",
        # versitygw's answer to an unknown access key (404, where S3 says InvalidAccessKeyId).
        "XAdminUserNotFound",
    }
)
# "This server cannot do that": a feature the request asks for (server-side encryption, a
# checksum, a header) that this S3-compatible server does not implement or accept (S3Proxy
# answers 501 NotImplemented to any SSE header). The same request fails the same way every
# time, so these are permanent, and the message says what to change.
_UNSUPPORTED = frozenset(
    {
        "NotImplemented",
        "501",
        "InvalidEncryptionAlgorithmError",
        "InvalidArgument",
        "InvalidRequest",
    }
)
_BUCKET_MISSING = frozenset({"NoSuchBucket", "InvalidBucketName"})
_KEY_MISSING = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchVersion"})
_THROTTLED = frozenset(
    {
        "SlowDown",
        "503",
        "ServiceUnavailable",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "429",
        "BandwidthLimitExceeded",
        "ProvisionedThroughputExceededException",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
        "TransactionInProgressException",
    }
)
_SERVER_TIMEOUT = frozenset({"RequestTimeout", "RequestTimeoutException", "504", "GatewayTimeout"})
_SERVER_FAULT = frozenset({"InternalError", "500", "502", "BadGateway", "InternalFailure"})
_BAD_DIGEST = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"})
_TOO_LARGE = frozenset({"EntityTooLarge", "413"})

TRANSIENT = frozenset({C.THROTTLED, C.TIMEOUT, C.NETWORK_ERROR})


def safe_repr(value: object, limit: int = 80) -> str:
    """A hostile string made safe for a log line or a message: repr'd, then truncated."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# The table: S3 error codes -> (code when reading the source, code when writing the destination).
_BY_S3_CODE: tuple[tuple[frozenset[str], FileFailureCode, FileFailureCode], ...] = (
    (_DENIED, C.SOURCE_UNREADABLE, C.DESTINATION_DENIED),
    (_UNSUPPORTED, C.SOURCE_UNREADABLE, C.DESTINATION_DENIED),
    (_BUCKET_MISSING, C.SOURCE_NOT_FOUND, C.DESTINATION_NOT_FOUND),
    # A missing key on the destination side (a vanished multipart upload) is unexpected.
    (_KEY_MISSING, C.SOURCE_NOT_FOUND, C.INTERNAL_ERROR),
    (_THROTTLED, C.THROTTLED, C.THROTTLED),
    (_SERVER_TIMEOUT, C.TIMEOUT, C.TIMEOUT),
    (_SERVER_FAULT, C.NETWORK_ERROR, C.NETWORK_ERROR),
    (_BAD_DIGEST, C.CHECKSUM_MISMATCH, C.CHECKSUM_MISMATCH),
    (_TOO_LARGE, C.TOO_LARGE, C.TOO_LARGE),
)


def _client_error(exc: bce.ClientError, side: Side) -> FileFailure:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "")) or str(
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )
    what = f"S3 {safe_repr(code, 48)} on {exc.operation_name}"
    if code in _UNSUPPORTED:
        what += _UNSUPPORTED_HINT[side]
    for codes, on_source, on_destination in _BY_S3_CODE:
        if code in codes:
            return FileFailure.of(on_source if side is Side.SOURCE else on_destination, what)
    return FileFailure.of(C.INTERNAL_ERROR, f"unexpected {what}")


_UNSUPPORTED_HINT = {
    Side.DESTINATION: (
        ": the destination server does not support what this write asks for; "
        "without server-side encryption set UPLOAD_STREAM_SSE=none "
        "(SHA-256 checksums are always sent)"
    ),
    Side.SOURCE: ": the staging server does not support this read (HeadObject with "
    "ChecksumMode, GetObject with Range)",
}


_OS_SOURCE_ERRNO = {
    errno.ENOENT: C.SOURCE_NOT_FOUND,
    errno.ENOTDIR: C.SOURCE_NOT_FOUND,
    errno.ENAMETOOLONG: C.SOURCE_NOT_FOUND,  # a hostile name no blob can have
    errno.EACCES: C.SOURCE_UNREADABLE,
    errno.EPERM: C.SOURCE_UNREADABLE,
    errno.EIO: C.SOURCE_UNREADABLE,
    errno.ELOOP: C.SOURCE_NOT_ALLOWED,
    errno.EISDIR: C.SOURCE_NOT_ALLOWED,
    errno.ENXIO: C.SOURCE_NOT_ALLOWED,
    errno.ENODEV: C.SOURCE_NOT_ALLOWED,
    errno.EXDEV: C.SOURCE_NOT_ALLOWED,
}


def _os_error(exc: OSError) -> FileFailure:
    # OSErrors that are network errors (resets, timeouts) were handled before this.
    name = errno.errorcode.get(exc.errno or 0, "no errno")
    what = f"{type(exc).__name__} ({name})"
    code = _OS_SOURCE_ERRNO.get(exc.errno or 0)
    if code is None:
        return FileFailure.of(C.INTERNAL_ERROR, f"unexpected {what}")
    return FileFailure.of(code, what)


# Exception classes checked in order (subclasses before their bases: botocore's
# ConnectTimeoutError is also a ConnectionError, ReadTimeoutError an HTTPClientError).
_BY_CLASS: tuple[tuple[tuple[type[BaseException], ...], FileFailureCode], ...] = (
    # urllib3 derives NewConnectionError (refused, DNS) from its ConnectTimeoutError.
    ((urllib3.exceptions.NewConnectionError,), C.NETWORK_ERROR),
    (
        (
            bce.ConnectTimeoutError,
            bce.ReadTimeoutError,
            urllib3.exceptions.TimeoutError,
            TimeoutError,
        ),
        C.TIMEOUT,
    ),
    (
        (
            bce.EndpointConnectionError,
            bce.ConnectionClosedError,
            bce.ConnectionError,
            bce.ResponseStreamingError,
            bce.IncompleteReadError,
            bce.HTTPClientError,
            urllib3.exceptions.ProtocolError,
            urllib3.exceptions.HTTPError,
            ConnectionError,
        ),
        C.NETWORK_ERROR,
    ),
    (
        (bce.NoCredentialsError, bce.PartialCredentialsError, bce.CredentialRetrievalError),
        C.INTERNAL_ERROR,
    ),
)


def classify(exc: BaseException, side: Side) -> FileFailure:
    """The one contract code (and a safe message) for an exception met on `side`."""
    if isinstance(exc, FileError):
        return exc.failure()
    if isinstance(exc, bce.ClientError):
        return _client_error(exc, side)
    for classes, code in _BY_CLASS:
        if isinstance(exc, classes):
            return FileFailure.of(code, f"{type(exc).__name__} talking to the {side.value}")
    if isinstance(exc, OSError) and side is Side.SOURCE:
        return _os_error(exc)
    if isinstance(exc, MemoryError):
        return FileFailure.of(C.INTERNAL_ERROR, "MemoryError")
    # Class name only: str(exc) of an unknown error may quote data.
    return FileFailure.of(C.INTERNAL_ERROR, f"unexpected {type(exc).__name__} on {side.value}")


def is_transient(failure: FileFailure) -> bool:
    return failure.code in TRANSIENT

"""The error table: every botocore, urllib3 and OS error the engine can meet -> one code."""

from __future__ import annotations

import errno

import pytest
import urllib3.exceptions
from botocore import exceptions as bce

from schemas import FileFailureCode as C
from upload_engine import classify as table
from upload_engine.classify import Side, classify, safe_repr
from upload_engine.errors import FileError

S, D = Side.SOURCE, Side.DESTINATION


def s3_error(code: str, status: int = 400) -> bce.ClientError:
    return bce.ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )


# (S3 code set, expected on the source side, expected on the destination side)
SETS = [
    (table._DENIED, C.SOURCE_UNREADABLE, C.DESTINATION_DENIED),
    (table._UNSUPPORTED, C.SOURCE_UNREADABLE, C.DESTINATION_DENIED),
    (table._BUCKET_MISSING, C.SOURCE_NOT_FOUND, C.DESTINATION_NOT_FOUND),
    (table._KEY_MISSING, C.SOURCE_NOT_FOUND, C.INTERNAL_ERROR),
    (table._THROTTLED, C.THROTTLED, C.THROTTLED),
    (table._SERVER_TIMEOUT, C.TIMEOUT, C.TIMEOUT),
    (table._SERVER_FAULT, C.NETWORK_ERROR, C.NETWORK_ERROR),
    (table._BAD_DIGEST, C.CHECKSUM_MISMATCH, C.CHECKSUM_MISMATCH),
    (table._TOO_LARGE, C.TOO_LARGE, C.TOO_LARGE),
]
S3_CASES = [
    (code, side, expected)
    for codes, on_source, on_dest in SETS
    for code in sorted(codes)
    for side, expected in ((S, on_source), (D, on_dest))
]


def test_code_sets_do_not_overlap() -> None:
    seen: set[str] = set()
    for codes, _, _ in SETS:
        assert not (seen & codes)
        seen |= codes


@pytest.mark.parametrize(("code", "side", "expected"), S3_CASES)
def test_s3_error_codes(code: str, side: Side, expected: C) -> None:
    failure = classify(s3_error(code), side)
    assert failure.code is expected
    assert failure.retryable is expected.retryable
    assert code in failure.message


@pytest.mark.parametrize("side", [S, D])
def s3_answer(code: str, status: int, operation: str) -> bce.ClientError:
    return bce.ClientError(
        {
            "Error": {"Code": code, "Message": "as the server said it"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


# Every error answer the strict servers gave (README, "A second S3 server"; measured with
# the integration tier's strict_s3 run and by hand on S3Proxy), and the code it must be.
MEASURED = [
    # (server, S3 code, HTTP status, operation, side, contract code)
    ("versitygw", "SignatureDoesNotMatch", 403, "PutObject", D, C.DESTINATION_DENIED),
    ("versitygw", "SignatureDoesNotMatch", 403, "GetObject", S, C.SOURCE_UNREADABLE),
    ("versitygw", "XAdminUserNotFound", 404, "PutObject", D, C.DESTINATION_DENIED),
    ("versitygw", "XAdminUserNotFound", 404, "HeadObject", S, C.SOURCE_UNREADABLE),
    ("versitygw", "AccessDenied", 403, "PutObject", D, C.DESTINATION_DENIED),
    ("versitygw", "BadDigest", 400, "PutObject", D, C.CHECKSUM_MISMATCH),
    ("versitygw", "BadDigest", 400, "UploadPart", D, C.CHECKSUM_MISMATCH),
    ("versitygw", "XAmzContentSHA256Mismatch", 400, "PutObject", D, C.CHECKSUM_MISMATCH),
    ("versitygw", "NoSuchBucket", 404, "PutObject", D, C.DESTINATION_NOT_FOUND),
    ("versitygw", "NoSuchBucket", 404, "HeadObject", S, C.SOURCE_NOT_FOUND),
    ("versitygw", "NoSuchKey", 404, "GetObject", S, C.SOURCE_NOT_FOUND),
    ("versitygw", "404", 404, "HeadObject", S, C.SOURCE_NOT_FOUND),
    # The staged object changed between HeadObject and CopyObject (CopySourceIfMatch):
    # unexpected, and a retry reads it afresh.
    ("versitygw", "PreconditionFailed", 412, "CopyObject", D, C.INTERNAL_ERROR),
    ("s3proxy", "InvalidAccessKeyId", 403, "PutObject", D, C.DESTINATION_DENIED),
    ("s3proxy", "SignatureDoesNotMatch", 403, "PutObject", D, C.DESTINATION_DENIED),
    ("s3proxy", "BadDigest", 400, "PutObject", D, C.CHECKSUM_MISMATCH),
    ("s3proxy", "XAmzContentSHA256Mismatch", 400, "PutObject", D, C.CHECKSUM_MISMATCH),
    ("s3proxy", "NotImplemented", 501, "PutObject", D, C.DESTINATION_DENIED),
    ("s3proxy", "NotImplemented", 501, "CreateMultipartUpload", D, C.DESTINATION_DENIED),
    ("s3proxy", "NotImplemented", 501, "CopyObject", D, C.DESTINATION_DENIED),
    ("s3proxy", "NotImplemented", 501, "PutBucketVersioning", D, C.DESTINATION_DENIED),
    ("s3proxy", "PreconditionFailed", 412, "CopyObject", D, C.INTERNAL_ERROR),
]


@pytest.mark.parametrize(
    ("server", "code", "status", "operation", "side", "expected"),
    MEASURED,
    ids=[f"{m[0]}-{m[1]}-{m[3]}-{m[4].value}" for m in MEASURED],
)
def test_codes_the_strict_servers_answered(
    server: str, code: str, status: int, operation: str, side: Side, expected: C
) -> None:
    failure = classify(s3_answer(code, status, operation), side)
    assert failure.code is expected, server
    assert failure.retryable is expected.retryable
    assert code in failure.message and operation in failure.message
    assert "as the server said it" not in failure.message  # the server's text is not echoed


@pytest.mark.parametrize("code", sorted(table._UNSUPPORTED))
def test_unsupported_is_permanent_and_says_what_to_change(code: str) -> None:
    failure = classify(s3_answer(code, 501, "PutObject"), D)
    assert failure.code is C.DESTINATION_DENIED and not failure.retryable
    assert "UPLOAD_STREAM_SSE=none" in failure.message
    on_source = classify(s3_answer(code, 501, "HeadObject"), S)
    assert on_source.code is C.SOURCE_UNREADABLE and not on_source.retryable
    assert "staging server" in on_source.message


def test_a_bare_501_is_unsupported() -> None:
    error = bce.ClientError({"Error": {}, "ResponseMetadata": {"HTTPStatusCode": 501}}, "PutObject")
    failure = classify(error, D)
    assert failure.code is C.DESTINATION_DENIED
    assert "UPLOAD_STREAM_SSE=none" in failure.message


@pytest.mark.parametrize("side", [S, D])
def test_unknown_s3_code_is_internal_and_named(side: Side) -> None:
    failure = classify(s3_error("MysteryError"), side)
    assert failure.code is C.INTERNAL_ERROR
    assert "MysteryError" in failure.message


def test_code_missing_falls_back_to_http_status() -> None:
    error = bce.ClientError(
        {"Error": {}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "HeadObject"
    )
    assert classify(error, D).code is C.THROTTLED


def test_hostile_s3_code_is_truncated() -> None:
    failure = classify(s3_error("A" * 500 + "\n"), D)
    assert len(failure.message) < 120


BOTO = [
    (bce.ConnectTimeoutError(endpoint_url="u"), C.TIMEOUT),
    (bce.ReadTimeoutError(endpoint_url="u"), C.TIMEOUT),
    (urllib3.exceptions.ReadTimeoutError(None, "u", "m"), C.TIMEOUT),  # type: ignore[arg-type]
    (urllib3.exceptions.ConnectTimeoutError(), C.TIMEOUT),
    (TimeoutError(), C.TIMEOUT),
    (bce.EndpointConnectionError(endpoint_url="u"), C.NETWORK_ERROR),
    (bce.ConnectionClosedError(endpoint_url="u"), C.NETWORK_ERROR),
    (bce.ProxyConnectionError(proxy_url="p"), C.NETWORK_ERROR),
    (bce.SSLError(endpoint_url="u", error="e"), C.NETWORK_ERROR),
    (bce.ResponseStreamingError(error="e"), C.NETWORK_ERROR),
    (bce.IncompleteReadError(actual_bytes=1, expected_bytes=2), C.NETWORK_ERROR),
    (bce.HTTPClientError(error="e"), C.NETWORK_ERROR),
    (urllib3.exceptions.ProtocolError("reset"), C.NETWORK_ERROR),
    (urllib3.exceptions.NewConnectionError(None, "m"), C.NETWORK_ERROR),  # type: ignore[arg-type]
    (ConnectionResetError(errno.ECONNRESET, "reset"), C.NETWORK_ERROR),
    (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), C.NETWORK_ERROR),
    (BrokenPipeError(errno.EPIPE, "pipe"), C.NETWORK_ERROR),
    (bce.NoCredentialsError(), C.INTERNAL_ERROR),
    (bce.PartialCredentialsError(provider="p", cred_var="v"), C.INTERNAL_ERROR),
    (bce.CredentialRetrievalError(provider="p", error_msg="m"), C.INTERNAL_ERROR),
    (bce.ParamValidationError(report="r"), C.INTERNAL_ERROR),
    (
        bce.ChecksumError(checksum_type="t", expected_checksum="a", actual_checksum="b"),
        C.INTERNAL_ERROR,
    ),
    (bce.NoRegionError(), C.INTERNAL_ERROR),
    (RuntimeError("x"), C.INTERNAL_ERROR),
    (ValueError("x"), C.INTERNAL_ERROR),
    (MemoryError(), C.INTERNAL_ERROR),
]


@pytest.mark.parametrize("side", [S, D])
@pytest.mark.parametrize(("exc", "expected"), BOTO, ids=[type(e).__name__ for e, _ in BOTO])
def test_exception_classes(exc: BaseException, expected: C, side: Side) -> None:
    failure = classify(exc, side)
    assert failure.code is expected
    assert type(exc).__name__ in failure.message


OS_SOURCE = [
    (errno.ENOENT, C.SOURCE_NOT_FOUND),
    (errno.ENOTDIR, C.SOURCE_NOT_FOUND),
    (errno.EACCES, C.SOURCE_UNREADABLE),
    (errno.EPERM, C.SOURCE_UNREADABLE),
    (errno.EIO, C.SOURCE_UNREADABLE),
    (errno.ELOOP, C.SOURCE_NOT_ALLOWED),
    (errno.EISDIR, C.SOURCE_NOT_ALLOWED),
    (errno.ENXIO, C.SOURCE_NOT_ALLOWED),
    (errno.ENODEV, C.SOURCE_NOT_ALLOWED),
    (errno.EXDEV, C.SOURCE_NOT_ALLOWED),
    # A hostile name longer than NAME_MAX / PATH_MAX: no such blob can exist.
    (errno.ENAMETOOLONG, C.SOURCE_NOT_FOUND),
    (errno.ENOSPC, C.INTERNAL_ERROR),
    (errno.EMFILE, C.INTERNAL_ERROR),
]


@pytest.mark.parametrize(
    ("number", "expected"), OS_SOURCE, ids=[errno.errorcode[n] for n, _ in OS_SOURCE]
)
def test_os_errors_on_the_source(number: int, expected: C) -> None:
    exc = OSError(number, "message with /secret/path")
    failure = classify(exc, S)
    assert failure.code is expected
    assert "/secret/path" not in failure.message


def test_os_errors_on_the_destination_are_internal() -> None:
    assert classify(OSError(errno.ENOENT, "x"), D).code is C.INTERNAL_ERROR


def test_file_errors_keep_their_code() -> None:
    failure = classify(FileError(C.TOO_LARGE, "big"), D)
    assert (failure.code, failure.message) == (C.TOO_LARGE, "big")


def test_every_code_is_reachable_from_the_table() -> None:
    reached = {expected for _, _, expected in S3_CASES} | {e for _, e in BOTO}
    reached |= {e for _, e in OS_SOURCE}
    # Verifier and policy checks raise these three directly (tested in upload_engine/test_codes.py).
    reached |= {C.SIZE_MISMATCH, C.CONTENT_TYPE_NOT_ALLOWED}
    # The content gate raises these (tested in upload_engine/test_gate.py, and
    # tests/integration/upload_engine/test_clamd_http.py).
    reached |= {C.CONTENT_TYPE_MISMATCH, C.MALWARE_DETECTED, C.SCAN_FAILED}
    assert reached == set(C)


def test_safe_repr_truncates_and_escapes() -> None:
    assert safe_repr("a\nb") == "'a\\nb'"
    assert len(safe_repr("x" * 1000)) == 80

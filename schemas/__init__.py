"""The upload-events v1 wire contract in code: models, codes, keys and Kafka encoding.

This package is the source of truth for the contract in `docs/contract/upload-events-v1.md`
(the binding contract, with the optional additions this project made).
"""

from schemas.codec import (
    REQUEST_EVENT_TYPE,
    RESULT_EVENT_TYPE,
    Headers,
    decode_request,
    decode_result,
    describe_validation_error,
    dlq_headers,
    encode_request,
    encode_result,
    header,
    message_key,
    request_headers,
    result_headers,
    valid_traceparent,
)
from schemas.codes import FileFailureCode, RequestErrorCode, UnknownFileFailureCode
from schemas.errors import (
    InvalidKeyPartError,
    RequestDecodeError,
    ResultDecodeError,
    SchemaError,
)
from schemas.fields import format_rfc3339
from schemas.keys import KEY_PATTERN, destination_key, file_extension
from schemas.request import BlobRef, UploadRequest, new_request_timestamp
from schemas.result import (
    FileFailure,
    RequestError,
    ResultStatus,
    ScanReport,
    ScanVerdict,
    StoredObject,
    UploadResult,
    VerifiedBy,
    status_for,
)
from schemas.staging_scope import StagedOwner, staged_owner, staging_scope

__all__ = [
    "KEY_PATTERN",
    "REQUEST_EVENT_TYPE",
    "RESULT_EVENT_TYPE",
    "BlobRef",
    "FileFailure",
    "FileFailureCode",
    "Headers",
    "InvalidKeyPartError",
    "RequestDecodeError",
    "RequestError",
    "RequestErrorCode",
    "ResultDecodeError",
    "ResultStatus",
    "ScanReport",
    "ScanVerdict",
    "SchemaError",
    "StagedOwner",
    "StoredObject",
    "UnknownFileFailureCode",
    "UploadRequest",
    "UploadResult",
    "VerifiedBy",
    "decode_request",
    "decode_result",
    "describe_validation_error",
    "destination_key",
    "dlq_headers",
    "encode_request",
    "encode_result",
    "file_extension",
    "format_rfc3339",
    "header",
    "message_key",
    "new_request_timestamp",
    "request_headers",
    "result_headers",
    "staged_owner",
    "staging_scope",
    "status_for",
    "valid_traceparent",
]

"""Kafka values, keys and headers for the three topics.

Decoding is the service's first line of defence: it accepts bytes from anyone and either
returns a valid model or raises `RequestDecodeError` with the contract's code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails, from_json

from schemas.codes import RequestErrorCode
from schemas.errors import RequestDecodeError, ResultDecodeError
from schemas.fields import DEFAULT_MAX_FILES_PER_REQUEST, RequestId, UserId, format_rfc3339
from schemas.request import MAX_FILES_CONTEXT_KEY, UploadRequest
from schemas.result import UploadResult

REQUEST_EVENT_TYPE = "upload.request.v1"
RESULT_EVENT_TYPE = "upload.result.v1"
CONTENT_TYPE_JSON = "application/json"

H_EVENT_TYPE = "event_type"
H_CORRELATION_ID = "correlation_id"
H_CONTENT_TYPE = "content_type"
H_TRACEPARENT = "traceparent"
H_DLQ_REASON_CODE = "dlq_reason_code"
H_DLQ_REASON = "dlq_reason"
H_DLQ_SOURCE_TOPIC = "dlq_source_topic"
H_DLQ_SOURCE_PARTITION = "dlq_source_partition"
H_DLQ_SOURCE_OFFSET = "dlq_source_offset"
H_DLQ_FAILED_AT = "dlq_failed_at"
DLQ_HEADERS = (
    H_DLQ_REASON_CODE,
    H_DLQ_REASON,
    H_DLQ_SOURCE_TOPIC,
    H_DLQ_SOURCE_PARTITION,
    H_DLQ_SOURCE_OFFSET,
    H_DLQ_FAILED_AT,
)

# librdkafka hands headers over as a list of (name, value) pairs; values may be None.
Headers = list[tuple[str, bytes | None]]
RawHeaders = Sequence[tuple[str, bytes | str | None]] | None

_TRACEPARENT = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace_id>[0-9a-f]{32})-(?P<parent_id>[0-9a-f]{16})-[0-9a-f]{2}"
)
_REQUEST_ID = TypeAdapter(RequestId)
_USER_ID = TypeAdapter(UserId)
_MAX_ERRORS_NAMED = 3
# A location part (field name, dict key) is named only when it is plainly safe to log;
# other dict keys are hostile input and show as `*`.
_SAFE_LOC_PART = re.compile(r"[A-Za-z0-9_:\[\]-]{1,64}")


def encode_request(request: UploadRequest) -> bytes:
    """The Kafka value of a request: its JSON, UTF-8."""
    return request.model_dump_json().encode("utf-8")


def encode_result(result: UploadResult) -> bytes:
    """The Kafka value of a result: its JSON, UTF-8."""
    return result.model_dump_json().encode("utf-8")


def message_key(user_id: str) -> bytes:
    """Requests and results are keyed by user_id, keeping one user's events in order."""
    return user_id.encode("utf-8")


def _loads(value: bytes | None) -> Any:
    # pydantic's JSON parser is strict where `json` is lax: it rejects NaN/Infinity, lone
    # surrogate escapes (which could never be encoded again) and nesting past ~200 levels,
    # and its messages give a position, never the text around it (that is user data).
    if value is None:
        raise RequestDecodeError(RequestErrorCode.INVALID_JSON, "the event has no value")
    try:
        return from_json(value, allow_inf_nan=False)
    except ValueError as exc:
        raise RequestDecodeError(
            RequestErrorCode.INVALID_JSON, f"the value is not valid UTF-8 JSON: {exc}"
        ) from None


def _readable(adapter: TypeAdapter[str], data: dict[str, Any], field: str) -> str | None:
    try:
        return adapter.validate_python(data.get(field), strict=True)
    except ValidationError:
        return None


def _describe(error: ErrorDetails) -> str:
    loc = [str(part) for part in error["loc"]]
    parts = []
    for index, text in enumerate(loc):
        # A key that itself broke its rule (`...<key>.[key]`) is never shown.
        rejected_key = loc[index + 1 : index + 2] == ["[key]"]
        parts.append("*" if rejected_key or not _SAFE_LOC_PART.fullmatch(text) else text)
    return f"{'.'.join(parts) or 'value'}: {error['msg']}"


def describe_validation_error(exc: ValidationError) -> str:
    """Names the offending fields and rules; never echoes the offending values."""
    errors = exc.errors(include_url=False, include_input=False)
    text = "; ".join(_describe(e) for e in errors[:_MAX_ERRORS_NAMED])
    if len(errors) > _MAX_ERRORS_NAMED:
        text += f"; and {len(errors) - _MAX_ERRORS_NAMED} more"
    return text


def decode_request(
    value: bytes | None, *, max_files_per_request: int = DEFAULT_MAX_FILES_PER_REQUEST
) -> UploadRequest:
    """Parse and validate one upload-request value, or raise `RequestDecodeError`.

    Order matters for the code: not JSON, then an unknown schema_version (a v2 request is
    not "invalid", it is from the future), then too many files, then any other rule.
    """
    data = _loads(value)
    if not isinstance(data, dict):
        raise RequestDecodeError(RequestErrorCode.INVALID_REQUEST, "value: must be a JSON object")
    ids = {
        "request_id": _readable(_REQUEST_ID, data, "request_id"),
        "user_id": _readable(_USER_ID, data, "user_id"),
    }
    version = data.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version != 1:
        raise RequestDecodeError(
            RequestErrorCode.UNSUPPORTED_SCHEMA_VERSION,
            "schema_version: only version 1 is supported",
            **ids,
        )
    try:
        return UploadRequest.model_validate(
            data, context={MAX_FILES_CONTEXT_KEY: max_files_per_request}
        )
    except ValidationError as exc:
        too_many = [e for e in exc.errors() if e["type"] == "too_many_files"]
        if too_many:
            raise RequestDecodeError(
                RequestErrorCode.TOO_MANY_FILES, f"files: {too_many[0]['msg']}", **ids
            ) from None
        raise RequestDecodeError(
            RequestErrorCode.INVALID_REQUEST, describe_validation_error(exc), **ids
        ) from None


def decode_result(value: bytes | None) -> UploadResult:
    """Parse one result value, or raise `ResultDecodeError` saying why."""
    if value is None:
        raise ResultDecodeError("the event has no value")
    try:
        return UploadResult.model_validate_json(value)
    except ValidationError as exc:
        raise ResultDecodeError(describe_validation_error(exc)) from None


def header(headers: RawHeaders, name: str) -> str | None:
    """The last value of header `name` as text, or None (absent, empty or not UTF-8)."""
    found: str | None = None
    for key, raw in headers or ():
        if key != name or raw is None:
            continue
        if isinstance(raw, bytes):
            try:
                found = raw.decode("utf-8")
            except UnicodeDecodeError:
                found = None
        else:
            found = raw
    return found or None


def valid_traceparent(value: str | None) -> str | None:
    """A W3C traceparent, or None: the header is copied onto results, so it must be clean.

    Version `ff` and all-zero trace or parent ids are invalid (W3C Trace Context, 3.2).
    """
    if value is None:
        return None
    match = _TRACEPARENT.fullmatch(value)
    if match is None or match["version"] == "ff":
        return None
    if set(match["trace_id"]) == {"0"} or set(match["parent_id"]) == {"0"}:
        return None
    return value


def _event_headers(event_type: str, request_id: str, traceparent: str | None) -> Headers:
    headers: Headers = [
        (H_EVENT_TYPE, event_type.encode()),
        (H_CORRELATION_ID, request_id.encode()),
        (H_CONTENT_TYPE, CONTENT_TYPE_JSON.encode()),
    ]
    clean = valid_traceparent(traceparent)
    if clean is not None:
        headers.append((H_TRACEPARENT, clean.encode()))
    return headers


def request_headers(request: UploadRequest, traceparent: str | None = None) -> Headers:
    """`event_type`, `correlation_id`, `content_type`, and `traceparent` when valid."""
    return _event_headers(REQUEST_EVENT_TYPE, request.request_id, traceparent)


def result_headers(result: UploadResult, traceparent: str | None = None) -> Headers:
    """As `request_headers`; the consumer passes the request's traceparent through."""
    return _event_headers(RESULT_EVENT_TYPE, result.request_id, traceparent)


def dlq_headers(
    original: RawHeaders,
    *,
    code: RequestErrorCode,
    reason: str,
    source_topic: str,
    source_partition: int,
    source_offset: int,
    failed_at: datetime,
) -> Headers:
    """The original headers, unchanged, plus the contract's `dlq_*` headers.

    Any `dlq_*` header already present is dropped first: a producer must not be able to
    forge the reason a record was dead-lettered.
    """
    kept: Headers = []
    for key, raw in original or ():
        if key in DLQ_HEADERS:
            continue
        kept.append((key, raw.encode() if isinstance(raw, str) else raw))
    added: Iterable[tuple[str, str]] = (
        (H_DLQ_REASON_CODE, code.value),
        (H_DLQ_REASON, reason),
        (H_DLQ_SOURCE_TOPIC, source_topic),
        (H_DLQ_SOURCE_PARTITION, str(source_partition)),
        (H_DLQ_SOURCE_OFFSET, str(source_offset)),
        (H_DLQ_FAILED_AT, format_rfc3339(failed_at)),
    )
    return kept + [(k, v.encode("utf-8")) for k, v in added]

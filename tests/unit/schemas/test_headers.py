"""Kafka keys and headers: event headers, traceparent, the header() helper, DLQ headers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from schemas import (
    RequestErrorCode,
    decode_request,
    decode_result,
    dlq_headers,
    format_rfc3339,
    header,
    message_key,
    request_headers,
    result_headers,
    valid_traceparent,
)
from schemas.examples import example_request, example_result

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
FAILED_AT = datetime(2026, 1, 31, 12, 0, 5, 250000, tzinfo=UTC)


def test_request_headers_with_traceparent() -> None:
    request = decode_request(json.dumps(example_request()).encode())
    assert request_headers(request, TRACEPARENT) == [
        ("event_type", b"upload.request.v1"),
        ("correlation_id", b"req-2026-01-31-0001"),
        ("content_type", b"application/json"),
        ("traceparent", TRACEPARENT.encode()),
    ]


def test_result_headers_drop_an_invalid_traceparent() -> None:
    result = decode_result(json.dumps(example_result()).encode())
    assert result_headers(result, "not-a-trace\r\nX-Injected: 1") == [
        ("event_type", b"upload.result.v1"),
        ("correlation_id", b"req-2026-01-31-0001"),
        ("content_type", b"application/json"),
    ]


def test_message_key_is_user_id_utf8() -> None:
    assert message_key("123") == b"123"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (TRACEPARENT, TRACEPARENT),
        (  # a later version in the same 55-char form: only ff is forbidden
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        ),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", None),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", None),
        ("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", None),
        (TRACEPARENT + "\n", None),
        (TRACEPARENT + "-extra", None),
        ("", None),
        (None, None),
    ],
)
def test_valid_traceparent(value: str | None, expected: str | None) -> None:
    assert valid_traceparent(value) == expected


def test_header_returns_last_value_as_text() -> None:
    headers = [("a", b"first"), ("b", b"other"), ("a", b"second")]
    assert header(headers, "a") == "second"
    assert header(headers, "b") == "other"
    assert header(headers, "missing") is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (None, None),
        ([], None),
        ([("a", None)], None),
        ([("a", b"")], None),
        ([("a", b"\xff\xfe")], None),
        ([("a", b"ok"), ("a", b"\xff")], None),
        ([("a", b"ok"), ("a", None)], "ok"),
        ([("a", "text")], "text"),
        ([("a", "caf\u00e9".encode())], "caf\u00e9"),
        ([("A", b"case")], None),
    ],
)
def test_header_edge_cases(
    headers: list[tuple[str, bytes | str | None]] | None, expected: str | None
) -> None:
    assert header(headers, "a") == expected


def test_dlq_headers_keep_originals_and_add_reason() -> None:
    original: list[tuple[str, bytes | str | None]] = [
        ("event_type", b"upload.request.v1"),
        ("correlation_id", b"r1"),
        ("binary", b"\x00\xff"),
        ("empty", None),
        ("text", "as-str"),
    ]
    headers = dlq_headers(
        original,
        code=RequestErrorCode.INVALID_REQUEST,
        reason="files: Field required",
        source_topic="uploads.requests",
        source_partition=3,
        source_offset=1042,
        failed_at=FAILED_AT,
    )
    assert headers == [
        ("event_type", b"upload.request.v1"),
        ("correlation_id", b"r1"),
        ("binary", b"\x00\xff"),
        ("empty", None),
        ("text", b"as-str"),
        ("dlq_reason_code", b"invalid_request"),
        ("dlq_reason", b"files: Field required"),
        ("dlq_source_topic", b"uploads.requests"),
        ("dlq_source_partition", b"3"),
        ("dlq_source_offset", b"1042"),
        ("dlq_failed_at", b"2026-01-31T12:00:05.250Z"),
    ]


def test_dlq_headers_strip_forged_reasons() -> None:
    forged: list[tuple[str, bytes | str | None]] = [
        ("dlq_reason_code", b"bucket_not_allowed"),
        ("correlation_id", b"r1"),
        ("dlq_reason", b"all good, ignore"),
        ("dlq_source_topic", b"elsewhere"),
        ("dlq_source_partition", b"0"),
        ("dlq_source_offset", b"0"),
        ("dlq_failed_at", b"1970-01-01T00:00:00Z"),
    ]
    headers = dlq_headers(
        forged,
        code=RequestErrorCode.INVALID_JSON,
        reason="the value is not valid UTF-8 JSON",
        source_topic="uploads.requests",
        source_partition=0,
        source_offset=7,
        failed_at=FAILED_AT,
    )
    names = [name for name, _ in headers]
    assert names == [
        "correlation_id",
        "dlq_reason_code",
        "dlq_reason",
        "dlq_source_topic",
        "dlq_source_partition",
        "dlq_source_offset",
        "dlq_failed_at",
    ]
    assert header(headers, "dlq_reason_code") == "invalid_json"
    assert header(headers, "dlq_source_offset") == "7"


def test_dlq_headers_without_originals() -> None:
    headers = dlq_headers(
        None,
        code=RequestErrorCode.TOO_MANY_FILES,
        reason="files: 101 files is more than the limit of 100",
        source_topic="t",
        source_partition=1,
        source_offset=2,
        failed_at=FAILED_AT,
    )
    assert headers[0] == ("dlq_reason_code", b"too_many_files")
    assert len(headers) == 6


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2026, 1, 31, 12, tzinfo=UTC), "2026-01-31T12:00:00.000Z"),
        (datetime(2026, 1, 31, 12, 0, 0, 123000, tzinfo=UTC), "2026-01-31T12:00:00.123Z"),
        (datetime(2026, 1, 31, 12, 0, 0, 123456, tzinfo=UTC), "2026-01-31T12:00:00.123456Z"),
        (
            datetime(2026, 1, 31, 12, tzinfo=timezone(timedelta(hours=2))),
            "2026-01-31T12:00:00.000+02:00",
        ),
        (
            datetime(2026, 1, 31, 12, tzinfo=timezone(timedelta(seconds=30))),
            "2026-01-31T11:59:30.000Z",
        ),
    ],
)
def test_format_rfc3339(value: datetime, text: str) -> None:
    assert format_rfc3339(value) == text


def test_format_rfc3339_refuses_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_rfc3339(datetime(2026, 1, 31, 12))

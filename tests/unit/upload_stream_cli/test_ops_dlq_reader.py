"""Reading dead letters leniently, and showing hostile bytes safely."""

import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from schemas import UploadRequest, encode_request
from upload_stream_cli.ops.dlq_reader import parse_dlq_record, read_dlq
from upload_stream_cli.ops.filters import RecordFilter
from upload_stream_cli.ops.render import counts_lines, dlq_detail, dlq_line, dlq_object
from upload_stream_cli.ops.text import escape_text, preview_bytes
from upload_stream_cli.ops.topics import TopicRecord

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def dlq_headers(
    code: str, failed_at: str = "2026-11-28T10:00:00.000Z"
) -> list[tuple[str, bytes | None]]:
    return [
        ("correlation_id", b"r-1"),
        ("dlq_reason_code", code.encode()),
        ("dlq_reason", b"bucket 'x' is not allowed"),
        ("dlq_source_topic", b"uploads.requests"),
        ("dlq_source_partition", b"2"),
        ("dlq_source_offset", b"41"),
        ("dlq_failed_at", failed_at.encode()),
    ]


def valid_value(request_id: str = "r-1", user_id: str = "u1") -> bytes:
    return encode_request(
        UploadRequest.model_validate(
            {
                "schema_version": 1,
                "request_id": request_id,
                "user_id": user_id,
                "files": {
                    "selfie": {
                        "uri": "s3://staging-bucket/a.jpg",
                        "size": 1,
                        "sha256": "0" * 64,
                        "content_type": "image/jpeg",
                    }
                },
                "created_at": "2026-11-28T09:00:00Z",
            }
        )
    )


def test_valid_record_reads_every_field() -> None:
    item = parse_dlq_record(
        TopicRecord("dlq", 0, 5, valid_value(), headers=dlq_headers("bucket_not_allowed"))
    )
    assert (
        item.code,
        item.reason,
        item.source_topic,
        item.source_partition,
        item.source_offset,
    ) == (
        "bucket_not_allowed",
        "bucket 'x' is not allowed",
        "uploads.requests",
        2,
        41,
    )
    assert item.when == T0
    assert (item.request_id, item.user_id, item.decodable) == ("r-1", "u1", True)
    assert item.request is not None
    assert dlq_line(item) == (
        "0:5  2026-11-28T10:00:00.000Z  bucket_not_allowed  request=r-1  user=u1  "
        "source=uploads.requests/2/41  reason=bucket 'x' is not allowed"
    )


def test_invalid_request_keeps_readable_ids() -> None:
    value = json.dumps({"schema_version": 1, "request_id": "r-9", "user_id": 42}).encode()
    item = parse_dlq_record(TopicRecord("dlq", 1, 0, value, headers=dlq_headers("invalid_request")))
    assert (item.request_id, item.user_id, item.decodable, item.request) == (
        "r-9",
        "42",
        True,
        None,
    )
    assert item.decode_error is not None
    assert item.decode_error.code.value == "invalid_request"


def test_garbage_never_raises_and_is_shown_escaped() -> None:
    hostile = b"\x1b[2J\x1b]0;pwned\x07\xff\xfe"
    headers: list[tuple[str, bytes | None]] = [
        ("dlq_reason_code", b"\x1b[31mred"),
        ("dlq_source_partition", b"-1"),
        ("dlq_source_offset", b"12abc"),
        ("dlq_failed_at", b"\xff"),
        ("correlation_id", b"bad id\x1b"),
        ("\x1b[1mname", b"\x00\x01"),
    ]
    item = parse_dlq_record(
        TopicRecord("dlq", 2, 7, hostile, key=b"\x9b1m", headers=headers, timestamp_ms=0)
    )
    assert (item.request_id, item.user_id, item.decodable) == (None, None, False)
    assert (item.source_partition, item.source_offset, item.failed_at) == (None, None, None)
    assert item.when == datetime(1970, 1, 1, tzinfo=UTC)
    line = dlq_line(item)
    assert line == (
        "2:7  1970-01-01T00:00:00.000Z  \\x1b[31mred  request=-  user=-  source=-  reason=-  "
        "value=<16 bytes hex:1b5b324a1b5d303b70776e656407fffe>"
    )
    shown = "\n".join([line, *dlq_detail(item), *counts_lines(Counter({item.code: 1}))])
    assert all(c.isprintable() for c in shown.replace("\n", ""))
    assert json.dumps(dlq_object(item, detail=True), ensure_ascii=True).isascii()


def test_garbage_line_exact() -> None:
    item = parse_dlq_record(
        TopicRecord("dlq", 0, 1, b"\xff\x00", headers=dlq_headers("invalid_json"))
    )
    assert dlq_line(item).endswith("value=<2 bytes hex:ff00>")
    assert dlq_object(item) == {
        "type": "record",
        "partition": 0,
        "offset": 1,
        "reason_code": "invalid_json",
        "reason": "bucket 'x' is not allowed",
        "source_topic": "uploads.requests",
        "source_partition": 2,
        "source_offset": 41,
        "failed_at": "2026-11-28T10:00:00.000Z",
        "request_id": "r-1",
        "user_id": None,
        "decodable": False,
        "value_bytes": 2,
    }


def test_missing_headers_read_as_unknown() -> None:
    item = parse_dlq_record(TopicRecord("dlq", 0, 0, None))
    assert (item.code, item.reason, item.when, item.decodable) == ("unknown", None, None, False)


def test_read_dlq_filters() -> None:
    records = [
        TopicRecord("dlq", 0, 0, valid_value("a", "u1"), headers=dlq_headers("bucket_not_allowed")),
        TopicRecord(
            "dlq", 0, 1, b"junk", headers=dlq_headers("invalid_json", "2026-11-28T11:00:00Z")
        ),
        TopicRecord(
            "dlq", 0, 2, valid_value("c", "u2"), headers=dlq_headers("reply_topic_not_allowed")
        ),
    ]

    def offsets(**filters: object) -> list[int]:
        return [i.record.offset for i in read_dlq(records, RecordFilter(**filters))]  # type: ignore[arg-type]

    assert offsets() == [0, 1, 2]
    assert offsets(codes=frozenset({"invalid_json"})) == [1]
    assert offsets(since=datetime(2026, 11, 28, 10, 30, tzinfo=UTC)) == [1]
    assert offsets(request_ids=frozenset({"c"})) == [2]
    assert offsets(user_ids=frozenset({"u1"})) == [0]
    assert offsets(file_types=frozenset({"selfie"})) == [0, 2]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain", "plain"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("back\\slash", "back\\\\slash"),
        ("bidi\u202eevil", "bidi\\u202eevil"),
        ("tab\tnl\n", "tab\\x09nl\\x0a"),
        ("caf\u00e9", "caf\u00e9"),
        ("\U000e0001tag", "\\U000e0001tag"),
    ],
)
def test_escape_text(text: str, shown: str) -> None:
    assert escape_text(text) == shown


def test_escape_text_truncates() -> None:
    assert escape_text("x" * 10, 4) == "xxxx..."


def test_preview_bytes() -> None:
    assert preview_bytes(None) == "<no value>"
    assert preview_bytes(b"") == '<0 bytes "">'
    assert preview_bytes(b'{"a":1}') == '<7 bytes "{"a":1}">'
    assert preview_bytes(b"\xff" * 40, 4) == "<40 bytes hex:ffffffff...>"
    assert preview_bytes("é".encode() * 3, 2) == '<6 bytes "éé...">'

"""Reading to the high watermark: where a partition counts as done."""

from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import KafkaError

from upload_stream_cli.ops.errors import OpsError
from upload_stream_cli.ops.topics import _handle, message_headers


@dataclass
class FakeMessage:
    part: int
    off: int
    err: KafkaError | None = None

    def partition(self) -> int:
        return self.part

    def offset(self) -> int:
        return self.off

    def error(self) -> KafkaError | None:
        return self.err

    def topic(self) -> str:
        return "t"

    def value(self) -> bytes:
        return b"v%d" % self.off

    def key(self) -> None:
        return None

    def headers(self) -> None:
        return None

    def timestamp(self) -> tuple[int, int]:
        return (1, 1700000000000)


def fake(part: int, off: int, err: KafkaError | None = None) -> Any:
    """A stand-in for `confluent_kafka.Message`, which cannot be built from Python."""
    return FakeMessage(part, off, err)


def test_records_below_the_watermark_are_kept_and_the_last_one_ends_the_partition() -> None:
    pending = {0: 2, 1: 5}
    got = [r.offset for m in [fake(0, 0), fake(0, 1)] for r in _handle(m, pending)]
    assert (got, pending) == ([0, 1], {1: 5})
    assert list(_handle(fake(0, 2), pending)) == []  # written after the start


def test_eof_ends_a_partition_below_the_watermark() -> None:
    # read_committed: the last offsets may be a commit marker or an open transaction
    pending = {0: 9, 1: 5}
    eof = KafkaError(KafkaError._PARTITION_EOF)
    assert list(_handle(fake(1, 3, eof), pending)) == []
    assert pending == {0: 9}


def test_record_fields_are_copied() -> None:
    [record] = list(_handle(fake(0, 4), {0: 10}))
    assert (record.topic, record.partition, record.offset, record.value) == ("t", 0, 4, b"v4")
    assert (record.key, record.headers, record.timestamp_ms) == (None, [], 1700000000000)


def test_a_permanent_error_stops_the_read_and_a_retriable_one_does_not() -> None:
    retriable = KafkaError(KafkaError._TRANSPORT, "down", retriable=True)
    assert list(_handle(fake(0, -1, retriable), {0: 3})) == []
    gone = KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, "Broker: Unknown topic")
    with pytest.raises(OpsError) as caught:
        list(_handle(fake(2, -1, gone), {2: 3}))
    assert str(caught.value) == "reading partition 2: Broker: Unknown topic"


class WithHeaders:
    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def headers(self) -> Any:
        return self.raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, []),
        ([("a", b"1"), ("b", None), ("a", "2")], [("a", b"1"), ("b", None), ("a", b"2")]),
        ({"c": "3"}, [("c", b"3")]),
    ],
)
def test_message_headers_are_bytes_pairs_in_order(raw: Any, expected: list[Any]) -> None:
    assert message_headers(WithHeaders(raw)) == expected  # type: ignore[arg-type]

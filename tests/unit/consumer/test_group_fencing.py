"""Offsets go to a transaction only with group metadata the broker can fence."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from confluent_kafka import KafkaException

from consumer.group_fencing import in_generation
from consumer.kafka_io import KafkaIO


def _metadata(generation: int, member: bytes, group: bytes = b"upload-stream") -> bytes:
    # As librdkafka 2.16 serialises it (tests/integration checks a real consumer's).
    return (
        b"CGMDv2:"
        + generation.to_bytes(4, sys.byteorder, signed=True)
        + group
        + b"\0"
        + member
        + b"\0\x01"
    )


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (_metadata(1, b"rdkafka-efe6262e"), True),
        (_metadata(17, b"rdkafka-efe6262e"), True),
        (_metadata(-1, b""), False),  # never joined, or expired: not fenced by the broker
        (_metadata(-1, b"rdkafka-efe6262e"), False),
        (_metadata(3, b""), False),
        (b"CGMDv3:\x01\x00\x00\x00g\x00m\x00", None),  # a format of a later librdkafka
        (b"CGMDv2:\x01\x00", None),  # truncated
        (b"CGMDv2:\x01\x00\x00\x00group-without-terminator", None),
        ("not bytes", None),
    ],
)
def test_generation_and_member_are_read_from_librdkafkas_metadata(
    metadata: Any, expected: bool | None
) -> None:
    assert in_generation(metadata) is expected


class FakeConsumer:
    def __init__(self, metadata: bytes) -> None:
        self.metadata = metadata

    def consumer_group_metadata(self) -> bytes:
        return self.metadata


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send_offsets_to_transaction(self, parts: Any, metadata: Any, timeout: float) -> None:
        self.sent.append((parts, metadata))


def test_offsets_of_an_expired_member_abort_the_transaction_instead_of_going_out() -> None:
    producer = FakeProducer()
    io = KafkaIO(FakeConsumer(_metadata(-1, b"")), producer, 0.01)  # type: ignore[arg-type]
    with pytest.raises(KafkaException) as raised:
        io.send_offsets_to_transaction({("requests", 0): 5}, 1.0)
    assert raised.value.args[0].txn_requires_abort()
    assert producer.sent == []


def test_offsets_of_a_member_go_out_with_its_metadata() -> None:
    producer = FakeProducer()
    metadata = _metadata(4, b"rdkafka-1")
    io = KafkaIO(FakeConsumer(metadata), producer, 0.01)  # type: ignore[arg-type]
    io.send_offsets_to_transaction({("requests", 0): 5}, 1.0)
    ((parts, sent_metadata),) = producer.sent
    assert [(p.topic, p.partition, p.offset) for p in parts] == [("requests", 0, 5)]
    assert sent_metadata == metadata

"""Partitions: what is held, paused and fetched-but-not-dispatched, and how it is let go."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError

from consumer.errors import FatalKafkaError
from consumer.ledger import Ledger, PartitionKey
from consumer.metrics import Metrics
from consumer.partitions import Partitions


class FakeMessage:
    def __init__(self, partition: int, offset: int, err: KafkaError | None = None) -> None:
        self._partition, self._offset, self._err = partition, offset, err

    def error(self) -> KafkaError | None:
        return self._err

    def topic(self) -> str:
        return "req"

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes:
        return b"v"

    def headers(self) -> Any:
        return {"traceparent": b"x"}  # a dict, as only produced messages have


class FakeIO:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[PartitionKey]]] = []
        self.seeks: list[tuple[PartitionKey, int]] = []

    def pause(self, tps: Any) -> None:
        if tps:  # as KafkaIO: an empty set is no call
            self.calls.append(("pause", sorted(tps)))

    def resume(self, tps: Any) -> None:
        if tps:
            self.calls.append(("resume", sorted(tps)))

    def seek(self, tp: PartitionKey, offset: int) -> bool:
        self.seeks.append((tp, offset))
        return True


def _partitions() -> tuple[Partitions, FakeIO, Ledger]:
    io, ledger = FakeIO(), Ledger()
    partitions = Partitions(io, ledger, Metrics())  # type: ignore[arg-type]
    partitions.assign({("req", 0), ("req", 1)})
    return partitions, io, ledger


def test_the_backlog_is_taken_in_order_and_forgotten_partitions_are_skipped() -> None:
    partitions, _io, ledger = _partitions()
    partitions.accept([FakeMessage(0, 5), FakeMessage(1, 9), FakeMessage(0, 6)])  # type: ignore[list-item]
    ledger.track("req", 1, 8)
    partitions.forget({("req", 1)})
    assert ledger.pending() == 0  # the forgotten partition's records went too
    taken = [partitions.take(), partitions.take(), partitions.take()]
    assert [(m.partition, m.offset) for m in taken if m] == [(0, 5), (0, 6)]
    assert taken[2] is None
    assert taken[0] is not None and taken[0].headers == [("traceparent", b"x")]


def test_pauses_while_full_or_backlogged_and_resumes_only_held_partitions() -> None:
    partitions, io, _ledger = _partitions()
    partitions.apply_backpressure(full=True)
    partitions.apply_backpressure(full=True)  # already paused: not paused again
    partitions.forget({("req", 1)})
    partitions.accept([FakeMessage(0, 1)])  # type: ignore[list-item]
    partitions.apply_backpressure(full=False)  # a backlog still waits
    assert partitions.take() is not None
    partitions.apply_backpressure(full=False)
    assert io.calls == [("pause", [("req", 0), ("req", 1)]), ("resume", [("req", 0)])]


def test_rewind_drops_the_backlog_and_seeks_only_held_partitions() -> None:
    partitions, io, _ledger = _partitions()
    partitions.accept([FakeMessage(0, 7), FakeMessage(1, 3)])  # type: ignore[list-item]
    partitions.rewind({("req", 0): 4, ("req", 2): 0})
    assert io.seeks == [(("req", 0), 4)]
    message = partitions.take()
    assert message is not None and (message.partition, message.offset) == (1, 3)
    assert partitions.take() is None


def test_partition_eof_is_ignored_and_a_fatal_consumer_error_raised() -> None:
    partitions, _io, _ledger = _partitions()
    partitions.accept([FakeMessage(0, 0, KafkaError(KafkaError._PARTITION_EOF))])  # type: ignore[list-item]
    assert partitions.take() is None
    with pytest.raises(FatalKafkaError):
        partitions.accept([FakeMessage(0, 0, KafkaError(KafkaError._FATAL, fatal=True))])  # type: ignore[list-item]

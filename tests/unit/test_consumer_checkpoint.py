"""Checkpoint: one transaction per checkpoint, and librdkafka's three error classes."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from consumer.checkpoint import Checkpoint
from consumer.errors import FatalKafkaError
from consumer.ledger import Ledger, PartitionKey, State
from consumer.metrics import Metrics
from consumer.outputs import Output, OutputKind
from consumer.settings import ProcessingGuarantee


def _error(*, retriable: bool = False, abort: bool = False, fatal: bool = False) -> KafkaException:
    return KafkaException(
        KafkaError(
            KafkaError._STATE, "test", fatal=fatal, retriable=retriable, txn_requires_abort=abort
        )
    )


class FakeProducer:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.commit_errors: list[KafkaException] = []

    def begin_transaction(self) -> None:
        self.calls.append("begin")

    def commit_transaction(self, timeout: float) -> None:
        if self.commit_errors:
            self.calls.append("commit failed")
            raise self.commit_errors.pop(0)
        self.calls.append("commit")

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")


class FakeIO:
    def __init__(self) -> None:
        self.producer = FakeProducer()
        self.produced: list[bytes | None] = []
        self.sent_offsets: list[dict[PartitionKey, int]] = []
        self.committed: list[tuple[dict[PartitionKey, int], bool]] = []

    def produce(self, output: Output, on_delivery: Any = None) -> None:
        self.produced.append(output.value)

    def send_offsets_to_transaction(self, offsets: dict[PartitionKey, int], timeout: float) -> None:
        self.producer.calls.append("send_offsets")
        self.sent_offsets.append(dict(offsets))

    def commit_offsets(self, offsets: dict[PartitionKey, int], *, wait: bool) -> None:
        self.committed.append((dict(offsets), wait))


def _setup(guarantee: ProcessingGuarantee = ProcessingGuarantee.EXACTLY_ONCE) -> Any:
    io, ledger, metrics = FakeIO(), Ledger(), Metrics()
    rewinds: list[dict[PartitionKey, int]] = []
    checkpoint = Checkpoint(
        io=io,  # type: ignore[arg-type]
        ledger=ledger,
        guarantee=guarantee,
        metrics=metrics,
        rewind=rewinds.append,
        interval_s=0.5,
        retry_timeout_s=5,
    )
    for offset in (0, 1, 2):
        record = ledger.track("req", 0, offset)
        if offset != 2:
            ledger.complete(record, [Output(OutputKind.RESULT, "res", b"k", bytes([offset]), [])])
    return io, ledger, metrics, rewinds, checkpoint


def test_transaction_carries_results_and_offsets_of_the_done_prefix() -> None:
    io, ledger, metrics, _rewinds, checkpoint = _setup()
    assert checkpoint.run() == 2
    assert io.producer.calls == ["begin", "send_offsets", "commit"]
    assert io.produced == [b"\x00", b"\x01"]
    assert io.sent_offsets == [{("req", 0): 2}]
    assert ledger.pending() == 1
    assert metrics.summary()["txn_committed"] == 1
    assert checkpoint.run() == 0  # nothing ready: no empty transaction
    assert io.producer.calls == ["begin", "send_offsets", "commit"]


def test_retriable_commit_is_retried() -> None:
    io, _ledger, _metrics, rewinds, checkpoint = _setup()
    io.producer.commit_errors = [_error(retriable=True)]
    assert checkpoint.run() == 2
    assert io.producer.calls == ["begin", "send_offsets", "commit failed", "commit"]
    assert rewinds == []


def test_abortable_error_aborts_and_rewinds_to_the_last_commit() -> None:
    io, ledger, metrics, rewinds, checkpoint = _setup()
    io.producer.commit_errors = [_error(abort=True)]
    assert checkpoint.run() == 0
    assert io.producer.calls == ["begin", "send_offsets", "commit failed", "abort"]
    assert rewinds == [{("req", 0): 0}]
    assert ledger.pending() == 0
    assert metrics.summary()["txn_aborted"] == 1


def test_fatal_error_raises() -> None:
    io, _ledger, _metrics, rewinds, checkpoint = _setup()
    io.producer.commit_errors = [_error(fatal=True)]
    with pytest.raises(FatalKafkaError):
        checkpoint.run()
    assert rewinds == []


def test_at_least_once_commits_published_prefix_without_transaction() -> None:
    io, ledger, _metrics, _rewinds, checkpoint = _setup(ProcessingGuarantee.AT_LEAST_ONCE)
    assert checkpoint.run() == 0
    for record in ledger.waiting(State.DONE):
        record.state = State.PUBLISHED
    assert checkpoint.run(wait=True) == 2
    assert io.committed == [({("req", 0): 2}, True)]
    assert io.producer.calls == []

"""Checkpoint: one transaction per checkpoint, and librdkafka's three error classes."""

from __future__ import annotations

import time
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from consumer.checkpoint import (
    ACK_WINDOW_S,
    MAX_ABORTS_WITHOUT_COMMIT,
    STALLED_AFTER_S,
    Checkpoint,
)
from consumer.errors import FatalKafkaError, OutputWriteError, StuckCallError
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
        self.commit_blocks_s = 0.0

    def begin_transaction(self) -> None:
        self.calls.append("begin")

    def commit_transaction(self, timeout: float) -> None:
        if self.commit_blocks_s:
            time.sleep(self.commit_blocks_s)  # a librdkafka call that ignores its timeout
        if self.commit_errors:
            self.calls.append("commit failed")
            raise self.commit_errors.pop(0)
        self.calls.append("commit")

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")

    def init_transactions(self, timeout: float) -> None:
        self.calls.append("init")


class FakeIO:
    def __init__(self) -> None:
        self.producer = FakeProducer()
        self.produced: list[bytes | None] = []
        self.sent_offsets: list[dict[PartitionKey, int]] = []
        self.committed: list[tuple[dict[PartitionKey, int], bool]] = []
        self.brokers_answers: list[bool] = []
        self.broker_checks = 0
        self.replaced: list[FakeProducer] = []
        self.group_offsets: dict[PartitionKey, int] = {}
        self.committed_errors: list[KafkaException] = []
        self.asked: list[list[PartitionKey]] = []
        self.reports: list[tuple[str, Any]] = []
        self.delivery_error: KafkaError | None = None
        self.topic_errors: dict[str, KafkaError] = {}  # what metadata says of a topic

    def topic_error(self, topic: str, timeout_s: float) -> KafkaError | None:
        return self.topic_errors.get(topic)

    def brokers_up(self, timeout_s: float) -> bool:
        self.broker_checks += 1
        return self.brokers_answers.pop(0) if self.brokers_answers else True

    def produce(self, output: Output, on_delivery: Any = None) -> None:
        self.produced.append(output.value)
        self.reports.append((output.topic, on_delivery))
        if self.delivery_error is not None:  # the broker refuses it at once
            on_delivery(self.delivery_error, None)

    def serve_producer(self) -> None:
        pass

    def flush(self, timeout_s: float) -> int:
        return 0

    def send_offsets_to_transaction(
        self, offsets: dict[PartitionKey, int], timeout: float, deadline_s: float | None = None
    ) -> None:
        self.producer.calls.append("send_offsets")
        self.sent_offsets.append(dict(offsets))

    def commit_offsets(self, offsets: dict[PartitionKey, int], *, wait: bool) -> None:
        self.committed.append((dict(offsets), wait))

    def replace_producer(self, stuck: StuckCallError) -> None:
        self.replaced.append(self.producer)
        self.producer = FakeProducer()

    def committed_offsets(
        self, tps: Iterable[PartitionKey], timeout_s: float
    ) -> dict[PartitionKey, int]:
        if self.committed_errors:
            raise self.committed_errors.pop(0)
        self.asked.append(sorted(tps))
        return {tp: o for tp, o in self.group_offsets.items() if tp in set(tps)}


def _setup(guarantee: ProcessingGuarantee = ProcessingGuarantee.EXACTLY_ONCE, **extra: Any) -> Any:
    io, ledger, metrics = FakeIO(), Ledger(), Metrics()
    rewinds: list[dict[PartitionKey, int]] = []
    checkpoint = Checkpoint(
        io=io,  # type: ignore[arg-type]
        ledger=ledger,
        partitions=SimpleNamespace(rewind=rewinds.append),  # type: ignore[arg-type]
        guarantee=guarantee,
        metrics=metrics,
        interval_s=0.5,
        retry_timeout_s=5,
        **extra,
    )
    for offset in (0, 1, 2):
        record = ledger.track("req", 0, offset)
        if offset != 2:
            checkpoint.complete(
                record, [Output(OutputKind.RESULT, "res", b"k", bytes([offset]), [])]
            )
    return io, ledger, metrics, rewinds, checkpoint


def test_transaction_carries_results_and_offsets_of_the_done_prefix() -> None:
    io, ledger, metrics, _rewinds, checkpoint = _setup()
    assert checkpoint.commit() == 2
    assert io.producer.calls == ["begin", "send_offsets", "commit"]
    assert io.produced == [b"\x00", b"\x01"]
    assert io.sent_offsets == [{("req", 0): 2}]
    assert ledger.pending() == 1
    assert metrics.summary()["txn_committed"] == 1
    assert checkpoint.commit() == 0  # nothing ready: no empty transaction
    assert io.producer.calls == ["begin", "send_offsets", "commit"]


def test_retriable_commit_is_retried() -> None:
    io, _ledger, _metrics, rewinds, checkpoint = _setup()
    io.producer.commit_errors = [_error(retriable=True)]
    assert checkpoint.commit() == 2
    assert io.producer.calls == ["begin", "send_offsets", "commit failed", "commit"]
    assert rewinds == []


def test_a_retry_waits_until_a_broker_answers_again() -> None:
    # librdkafka #5456: a transactional call started into a broker outage can hang for good.
    io, _ledger, _metrics, _rewinds, checkpoint = _setup()
    io.producer.commit_errors = [_error(retriable=True)]
    io.brokers_answers = [False, False, True]
    assert checkpoint.commit() == 2
    assert io.broker_checks == 3
    assert io.producer.calls == ["begin", "send_offsets", "commit failed", "commit"]


def test_a_wedged_producer_is_replaced_and_the_lost_transaction_redone() -> None:
    # librdkafka #5456: commit_transaction never returns. The group committed nothing of
    # the lost transaction, so the records are rewound to their first offset and redone.
    io, ledger, metrics, rewinds, checkpoint = _setup(stuck_after_s=0.3)
    wedged = io.producer
    wedged.commit_blocks_s = 3.0
    io.group_offsets = {("req", 0): 0, ("other", 1): 7}
    started = time.monotonic()
    assert checkpoint.commit() == 0
    assert time.monotonic() - started < 2.0
    assert io.replaced == [wedged]
    assert io.producer is not wedged and io.producer.calls == ["init"]
    assert io.asked == [[("req", 0)]]  # only partitions with uncommitted records
    assert rewinds == [{("req", 0): 0}]
    assert ledger.pending() == 0  # dropped: the rewound records are fetched again
    assert metrics.summary()["txn_producer_replaced"] == 1
    assert metrics.summary()["txn_committed"] == 0
    # The redone records commit through the new producer.
    for offset in (0, 1):
        ledger.complete(ledger.track("req", 0, offset), [])
    assert checkpoint.commit() == 2
    assert io.producer.calls == ["init", "begin", "send_offsets", "commit"]
    assert io.sent_offsets[-1] == {("req", 0): 2}


def test_a_lost_transaction_that_did_commit_is_not_redone() -> None:
    # The commit reached the coordinator before the call wedged: the group's offset says
    # so, and the rewind goes past the committed records instead of publishing them again.
    io, _ledger, _metrics, rewinds, checkpoint = _setup(stuck_after_s=0.3)
    io.producer.commit_blocks_s = 3.0
    io.group_offsets = {("req", 0): 2}
    assert checkpoint.commit() == 0
    assert rewinds == [{("req", 0): 2}]


def test_without_a_committed_offset_the_rewind_goes_to_the_first_uncommitted_record() -> None:
    io, _ledger, _metrics, rewinds, checkpoint = _setup(stuck_after_s=0.3)
    io.producer.commit_blocks_s = 3.0
    io.committed_errors = [KafkaException(KafkaError(KafkaError._TIMED_OUT, "test"))]
    assert checkpoint.commit() == 0
    assert io.broker_checks >= 1  # the failed question waited for a broker, then again
    assert rewinds == [{("req", 0): 0}]


def test_a_new_producer_that_wedges_too_is_fatal() -> None:
    io, _ledger, _metrics, rewinds, checkpoint = _setup(stuck_after_s=0.3)
    io.producer.commit_blocks_s = 3.0

    def init_wedges(timeout: float) -> None:
        time.sleep(3.0)

    def replace(stuck: StuckCallError) -> None:
        io.replaced.append(io.producer)
        io.producer = FakeProducer()
        io.producer.init_transactions = init_wedges  # type: ignore[method-assign]

    io.replace_producer = replace  # type: ignore[method-assign]
    with pytest.raises(FatalKafkaError, match="init_wedges did not return"):
        checkpoint.commit()
    assert rewinds == []


def test_abortable_error_aborts_and_rewinds_to_the_last_commit() -> None:
    io, ledger, metrics, rewinds, checkpoint = _setup()
    io.producer.commit_errors = [_error(abort=True)]
    assert checkpoint.commit() == 0
    assert io.producer.calls == ["begin", "send_offsets", "commit failed", "abort"]
    assert rewinds == [{("req", 0): 0}]
    assert ledger.pending() == 0
    assert metrics.summary()["txn_aborted"] == 1


def test_fatal_error_raises() -> None:
    io, _ledger, _metrics, rewinds, checkpoint = _setup()
    io.producer.commit_errors = [_error(fatal=True)]
    with pytest.raises(FatalKafkaError):
        checkpoint.commit()
    assert rewinds == []


def test_at_least_once_commits_the_acked_prefix_without_a_transaction() -> None:
    io, _ledger, _metrics, _rewinds, checkpoint = _setup(ProcessingGuarantee.AT_LEAST_ONCE)
    checkpoint.publish()
    assert io.produced == [b"\x00", b"\x01"]
    assert checkpoint.commit() == 0  # produced, not acknowledged yet
    (_, ack_first), (_, ack_second) = io.reports
    ack_second(None, None)
    assert checkpoint.commit() == 0  # offset 0 is still unacknowledged: it leads
    ack_first(None, None)
    assert checkpoint.commit(final=True) == 2
    assert io.committed == [({("req", 0): 2}, True)]
    assert io.producer.calls == []


def test_an_unwritable_output_stops_instead_of_aborting_and_rewinding_for_ever() -> None:
    io, ledger, metrics, rewinds, checkpoint = _setup()
    io.delivery_error = KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)
    io.producer.commit_errors = [_error(abort=True)]  # a failed produce aborts the commit
    with pytest.raises(OutputWriteError) as caught:
        checkpoint.commit()
    assert str(caught.value).startswith("cannot write to topic 'res': TOPIC_AUTHORIZATION_FAILED")
    assert io.producer.calls == ["begin", "send_offsets", "commit failed", "abort"]
    assert rewinds == []
    assert ledger.pending() == 3  # nothing committed, nothing forgotten
    assert metrics.summary()["txn_aborted"] == 1


def _timed_out() -> KafkaException:
    """What librdkafka answers for records of a topic deleted under a transaction."""
    return KafkaException(
        KafkaError(KafkaError._TIMED_OUT, "1 message(s) timed out on res [0]",
                   txn_requires_abort=True)
    )  # fmt: skip


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (KafkaError.UNKNOWN_TOPIC_OR_PART, "UNKNOWN_TOPIC_OR_PART"),
        (KafkaError.TOPIC_AUTHORIZATION_FAILED, "TOPIC_AUTHORIZATION_FAILED"),
    ],
)
def test_an_abort_for_timed_out_records_asks_the_metadata_and_stops_on_its_answer(
    code: int, name: str
) -> None:
    io, ledger, _metrics, rewinds, checkpoint = _setup()
    io.producer.commit_errors = [_timed_out()]
    io.topic_errors = {"res": KafkaError(code)}
    with pytest.raises(OutputWriteError) as caught:
        checkpoint.commit()
    assert str(caught.value).startswith(f"cannot write to topic 'res': {name}")
    assert rewinds == []
    assert ledger.pending() == 3


def test_aborts_in_a_row_without_a_commit_are_bounded() -> None:
    io, ledger, metrics, rewinds, checkpoint = _setup()
    for aborted in range(1, MAX_ABORTS_WITHOUT_COMMIT):
        io.producer.commit_errors = [_timed_out()]
        assert checkpoint.commit() == 0  # topic still there: abort, rewind, redo
        assert len(rewinds) == aborted
        _redo(ledger, checkpoint)
    io.producer.commit_errors = [_timed_out()]
    with pytest.raises(FatalKafkaError) as caught:
        checkpoint.commit()
    assert str(caught.value) == (
        f"{MAX_ABORTS_WITHOUT_COMMIT} transactions aborted in a row, none committed, the "
        f"brokers answering; the last: {_timed_out()}"
    )
    assert metrics.summary()["txn_aborted"] == MAX_ABORTS_WITHOUT_COMMIT


def test_aborts_while_no_broker_answers_are_an_outage_and_not_counted() -> None:
    io, ledger, metrics, rewinds, checkpoint = _setup()
    ledger.drop([("req", 0)])
    io.topic_errors = {"res": KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)}  # never asked
    for _ in range(2 * MAX_ABORTS_WITHOUT_COMMIT):
        _redo(ledger, checkpoint)
        io.brokers_answers = [False]  # after the abort: nobody answers
        io.producer.commit_errors = [_timed_out()]
        assert checkpoint.commit() == 0
    assert len(rewinds) == 2 * MAX_ABORTS_WITHOUT_COMMIT
    assert metrics.summary()["txn_aborted"] == 2 * MAX_ABORTS_WITHOUT_COMMIT


def test_a_commit_resets_the_count_of_aborts_in_a_row() -> None:
    io, ledger, metrics, rewinds, checkpoint = _setup()
    ledger.drop([("req", 0)])
    for _ in range(2 * MAX_ABORTS_WITHOUT_COMMIT):
        _redo(ledger, checkpoint)
        io.producer.commit_errors = [_timed_out()]
        assert checkpoint.commit() == 0  # aborted, rewound
        _redo(ledger, checkpoint)
        assert checkpoint.commit() == 2
    assert len(rewinds) == 2 * MAX_ABORTS_WITHOUT_COMMIT
    assert metrics.summary()["txn_aborted"] == 2 * MAX_ABORTS_WITHOUT_COMMIT


def _redo(ledger: Ledger, checkpoint: Checkpoint) -> None:
    """Requests 0 and 1 fetched again and finished (after a rewind, or anew)."""
    for offset in (0, 1):
        record = ledger.track("req", 0, offset)
        checkpoint.complete(record, [Output(OutputKind.RESULT, "res", b"k", b"x", [])])


def test_stalled_from_a_failed_transaction_until_a_commit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr("consumer.checkpoint._now", lambda: clock[0])
    io, ledger, _metrics, _rewinds, checkpoint = _setup()
    assert not checkpoint.stalled
    io.producer.commit_errors = [_error(abort=True)]
    assert checkpoint.commit() == 0
    assert checkpoint.stalled
    _redo(ledger, checkpoint)
    assert checkpoint.commit() == 2
    assert not checkpoint.stalled


def test_stalled_ends_once_nothing_waited_behind_the_failure_for_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr("consumer.checkpoint._now", lambda: clock[0])
    io, ledger, _metrics, _rewinds, checkpoint = _setup()
    io.producer.commit_errors = [_error(abort=True)]
    checkpoint.commit()
    ledger.drop([("req", 0)])  # revoked meanwhile: nothing left to commit
    clock[0] += STALLED_AFTER_S - 0.1
    checkpoint.commit()
    assert checkpoint.stalled
    clock[0] += 0.2
    checkpoint.commit()
    assert not checkpoint.stalled


def test_stalled_while_a_transaction_runs_too_long() -> None:
    io, _ledger, _metrics, _rewinds, checkpoint = _setup()
    seen: list[bool] = []

    def commit_transaction(timeout: float) -> None:
        seen.append(checkpoint.stalled)
        checkpoint._waiting_since = time.monotonic() - STALLED_AFTER_S  # as if it ran long
        seen.append(checkpoint.stalled)

    io.producer.commit_transaction = commit_transaction  # type: ignore[method-assign]
    assert checkpoint.commit() == 2
    assert seen == [False, True]
    assert not checkpoint.stalled


def test_at_least_once_is_stalled_from_a_failed_delivery_until_a_commit() -> None:
    io, _ledger, _metrics, _rewinds, checkpoint = _setup(ProcessingGuarantee.AT_LEAST_ONCE)
    checkpoint.publish()
    (_, ack_first), (_, ack_second) = io.reports
    ack_first(KafkaError(KafkaError._MSG_TIMED_OUT), None)  # produced again
    assert checkpoint.commit() == 0
    assert checkpoint.stalled
    checkpoint.publish()
    ack_second(None, None)
    io.reports[-1][1](None, None)
    assert checkpoint.commit() == 2
    assert not checkpoint.stalled


def test_at_least_once_is_stalled_while_a_leading_record_waits_for_its_acknowledgement() -> None:
    io, ledger, _metrics, _rewinds, checkpoint = _setup(ProcessingGuarantee.AT_LEAST_ONCE)
    checkpoint.publish()
    assert checkpoint.commit() == 0
    assert not checkpoint.stalled  # just produced
    for record in ledger.ready(State.PUBLISHING):
        record.produced_at -= STALLED_AFTER_S  # as if no acknowledgement came for that long
    assert checkpoint.commit() == 0
    assert checkpoint.stalled
    for _, ack in io.reports:
        ack(None, None)
    assert checkpoint.commit() == 2
    assert not checkpoint.stalled


def test_acks_are_due_only_fresh_and_with_nothing_uploading() -> None:
    io, ledger, _metrics, _rewinds, checkpoint = _setup(ProcessingGuarantee.AT_LEAST_ONCE)
    checkpoint.publish()
    assert not checkpoint.acks_due()  # offset 2 is still uploading: its finish wakes the loop
    (uploading,) = ledger.waiting(State.IN_FLIGHT)
    checkpoint.complete(uploading, [Output(OutputKind.RESULT, "res", b"k", b"\x02", [])])
    checkpoint.publish()
    assert checkpoint.acks_due()  # three produced just now, nothing else to wait for
    for record in ledger.waiting(State.PUBLISHING):
        record.produced_at -= ACK_WINDOW_S  # as if no acknowledgement came for that long
    assert not checkpoint.acks_due()
    for _, ack in io.reports:
        ack(None, None)
    assert not checkpoint.acks_due()
    assert checkpoint.commit() == 3


def test_exactly_once_never_has_acks_due() -> None:
    _io, ledger, _metrics, _rewinds, checkpoint = _setup()
    (uploading,) = ledger.waiting(State.IN_FLIGHT)
    checkpoint.complete(uploading, [])
    assert not checkpoint.acks_due()  # its outputs go in the transaction, which wakes the loop


def test_interval_batches_only_while_other_requests_are_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr("consumer.checkpoint._now", lambda: clock[0])
    io, ledger, _metrics, _rewinds, checkpoint = _setup()
    assert checkpoint.due()  # nothing committed yet: the first results go out at once
    assert checkpoint.commit() == 2
    assert not checkpoint.due()  # offset 2 still uploading: wait, it may join the next batch
    clock[0] += 0.6
    assert checkpoint.due()
    assert checkpoint.commit() == 0  # nothing ready...
    assert checkpoint.due()  # ...so the clock did not restart
    (still_uploading,) = ledger.waiting(State.IN_FLIGHT)
    ledger.complete(still_uploading, [Output(OutputKind.RESULT, "res", b"k", b"\x02", [])])
    assert checkpoint.commit() == 1
    assert io.sent_offsets[-1] == {("req", 0): 3}
    clock[0] += 0.01  # well inside the interval...
    record = ledger.track("req", 0, 3)
    assert not checkpoint.due()  # ...and a request is uploading: hold back
    ledger.complete(record, [Output(OutputKind.RESULT, "res", b"k", b"\x03", [])])
    assert checkpoint.due()  # nothing left in flight: nothing to batch with, commit now
    assert checkpoint.commit() == 1

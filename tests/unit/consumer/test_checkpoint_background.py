"""exactly_once: the loop's transaction runs on its own greenlet, one at a time.

While it waits on the broker the loop goes on (fetching, dispatching); records finished
meanwhile wait for the next transaction; a synchronous commit waits for it first; its
error reaches the loop on the next call.
"""

from __future__ import annotations

from typing import Any

import gevent
import pytest

from consumer.errors import FatalKafkaError
from consumer.ledger import Ledger, State
from consumer.outputs import Output, OutputKind
from tests.unit.consumer.test_checkpoint import _error, _setup


def _result(offset: int) -> list[Output]:
    return [Output(OutputKind.RESULT, "res", b"k", bytes([offset]), [])]


def _background() -> Any:
    wakes: list[None] = []
    io, ledger, _metrics, _rewinds, checkpoint = _setup(on_committed=lambda: wakes.append(None))
    return io, ledger, checkpoint, wakes


def test_commit_soon_returns_at_once_and_one_transaction_runs_at_a_time() -> None:
    io, ledger, checkpoint, wakes = _background()
    io.producer.commit_blocks_s = 0.3
    checkpoint.commit_soon()
    assert checkpoint.busy
    gevent.sleep(0.05)  # other greenlets run while it waits on the broker
    assert checkpoint.busy and ledger.pending() == 3

    (record,) = ledger.waiting(State.IN_FLIGHT)
    checkpoint.complete(record, _result(2))
    checkpoint.commit_soon()  # still running: no second transaction beside it
    assert io.producer.calls.count("begin") == 1

    gevent.sleep(0.5)
    assert not checkpoint.busy and wakes == [None]
    assert io.sent_offsets == [{("req", 0): 2}]  # offset 2 finished too late for it
    io.producer.commit_blocks_s = 0.0
    checkpoint.commit_soon()
    gevent.sleep(0.05)
    assert io.sent_offsets == [{("req", 0): 2}, {("req", 0): 3}]
    assert ledger.pending() == 0


def test_a_final_commit_waits_for_the_running_transaction_then_commits_the_rest() -> None:
    io, ledger, checkpoint, _wakes = _background()
    io.producer.commit_blocks_s = 0.2
    checkpoint.commit_soon()
    gevent.sleep(0)
    (record,) = ledger.waiting(State.IN_FLIGHT)
    checkpoint.complete(record, _result(2))
    io.producer.commit_blocks_s = 0.0
    assert checkpoint.commit(final=True) == 1
    assert io.sent_offsets == [{("req", 0): 2}, {("req", 0): 3}]
    assert io.producer.calls == ["begin", "send_offsets", "commit"] * 2


def test_an_error_of_the_background_transaction_is_raised_on_the_next_call() -> None:
    io, _ledger, checkpoint, _wakes = _background()
    io.producer.commit_errors = [_error(fatal=True)]
    checkpoint.commit_soon()
    gevent.sleep(0.1)
    assert not checkpoint.busy
    with pytest.raises(FatalKafkaError):
        checkpoint.publish()  # the loop's every step, due or not


def test_the_ledger_skips_records_of_a_partition_lost_while_their_transaction_ran() -> None:
    ledger = Ledger()
    record = ledger.track("req", 0, 7)
    ledger.complete(record, _result(7))
    ledger.drop([("req", 0)])  # lost, while the transaction holding it was running
    assert ledger.release([record]) == {}

"""An idle consumer waits for the next message instead of sleeping between polls.

Only a loop holding nothing (no record in the ledger, no backlog, no undelivered output)
waits in `KafkaIO.wait_for_messages`, whose callbacks run in a threadpool thread; with a
record held it keeps polling without waiting, so deliveries and commits are served.
"""

from __future__ import annotations

from consumer.loop import IDLE_WAIT_S
from tests.unit.consumer.test_at_least_once import (
    DLQ,
    REQUESTS,
    RESULTS,
    FakeMessage,
    FakePartition,
    ScriptedIO,
    _loop,
    _rejected_request,
)


def test_a_loop_holding_nothing_waits_for_a_message_and_dispatches_it_next_step() -> None:
    io = ScriptedIO()
    loop = _loop(io)
    arrives = FakeMessage(REQUESTS, 0, 5, _rejected_request())
    io.during_wait = [lambda: io.to_fetch.append(arrives)]
    loop.step()  # nothing fetched, nothing held: it waits, and the message arrives meanwhile
    assert io.waits == [IDLE_WAIT_S]
    assert io.pending == []  # taken, not dispatched yet

    loop.step()  # dispatched: its result and dead letter are produced; now it is held
    assert (io.unanswered(RESULTS), io.unanswered(DLQ)) == (1, 1)
    assert io.waits == [IDLE_WAIT_S]


def test_a_loop_holding_a_record_never_waits_in_the_threadpool() -> None:
    io = ScriptedIO()
    loop = _loop(io)
    io.to_fetch = [FakeMessage(REQUESTS, 0, 5, _rejected_request())]
    loop.step()
    for _ in range(3):  # produced, unacknowledged: the record is held
        loop.step()
    assert io.waits == []

    io.answer_all(RESULTS, None)
    io.answer_all(DLQ, None)
    loop.step()  # acknowledged and committed; holding nothing, the same step waits
    assert io.committed == [{(REQUESTS, 0): 6}]
    assert io.waits == [IDLE_WAIT_S]


def test_a_revoke_during_an_idle_wait_only_forgets_the_partition() -> None:
    io = ScriptedIO()
    loop = _loop(io)
    revoke = io.consumer.callbacks["on_revoke"]
    io.during_wait = [lambda: revoke(io.consumer, [FakePartition(REQUESTS, 0)])]
    loop.step()
    assert io.waits == [IDLE_WAIT_S]
    assert io.committed == []
    assert not loop.ready  # it holds no partition any more

    # A message of the revoked partition still fetched is not dispatched.
    io.to_fetch = [FakeMessage(REQUESTS, 0, 5, _rejected_request())]
    loop.step()
    assert io.pending == []

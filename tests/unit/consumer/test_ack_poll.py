"""at_least_once: while a result's acknowledgement is all the loop waits for, it polls every
`ACK_POLL_S` instead of `poll_idle_s`, for at most `ACK_WINDOW_S` after the produce (which
records `Checkpoint.acks_due` counts is tested with the checkpoint).
"""

from __future__ import annotations

import pytest

import consumer.checkpoint
from consumer.checkpoint import ACK_WINDOW_S
from consumer.loop import ACK_POLL_S
from tests.unit.consumer.test_at_least_once import (
    DLQ,
    REQUESTS,
    RESULTS,
    FakeMessage,
    ScriptedIO,
    _loop,
    _rejected_request,
)

POLL_IDLE_S = 0.02


class RecordingEvent:
    """The loop's wake-up event, recording how long each wait was allowed to take."""

    def __init__(self) -> None:
        self.timeouts: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.timeouts.append(timeout)
        return False

    def set(self) -> None:
        pass

    def clear(self) -> None:
        pass


@pytest.fixture
def wake(monkeypatch: pytest.MonkeyPatch) -> RecordingEvent:
    event = RecordingEvent()
    monkeypatch.setattr("consumer.loop.Event", lambda: event)
    return event


def test_a_loop_awaiting_only_fresh_acknowledgements_polls_at_the_ack_cadence(
    wake: RecordingEvent,
) -> None:
    io = ScriptedIO()
    loop = _loop(io, POLL_IDLE_S)
    io.to_fetch = [FakeMessage(REQUESTS, 0, 5, _rejected_request())]
    loop.step()  # fetched: it does not wait; rejected at once, nothing uploading
    assert (io.unanswered(RESULTS), io.unanswered(DLQ)) == (1, 1)
    assert wake.timeouts == []
    loop.step()
    loop.step()
    assert wake.timeouts == [ACK_POLL_S, ACK_POLL_S]

    io.answer_all(RESULTS, None)
    io.answer_all(DLQ, None)
    loop.step()  # acknowledged and committed: nothing held, it waits for a message instead
    assert io.committed == [{(REQUESTS, 0): 6}]
    assert wake.timeouts == [ACK_POLL_S, ACK_POLL_S]


def test_an_acknowledgement_overdue_gets_the_normal_cadence(
    wake: RecordingEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    io = ScriptedIO()
    loop = _loop(io, POLL_IDLE_S)
    io.to_fetch = [FakeMessage(REQUESTS, 0, 5, _rejected_request())]
    loop.step()
    loop.step()
    assert wake.timeouts == [ACK_POLL_S]

    later = consumer.checkpoint._now() + ACK_WINDOW_S
    monkeypatch.setattr(consumer.checkpoint, "_now", lambda: later)
    loop.step()  # a broker that does not answer is not polled for every millisecond
    assert wake.timeouts == [ACK_POLL_S, POLL_IDLE_S]

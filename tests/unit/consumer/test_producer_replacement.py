"""KafkaIO.replace_producer: a wedged producer is swapped, and closed only once free."""

from __future__ import annotations

from typing import Any

import pytest
from gevent.event import AsyncResult

from consumer.errors import StuckCallError
from consumer.kafka_io import MAX_WEDGED_PRODUCERS, KafkaIO


class FakeProducer:
    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False

    def close(self) -> None:
        self.closed = True


def _io(made: list[FakeProducer]) -> KafkaIO:
    def new_producer() -> Any:
        made.append(FakeProducer(f"p{len(made)}"))
        return made[-1]

    return KafkaIO(object(), new_producer(), 0.01, new_producer=new_producer)  # type: ignore[arg-type]


def test_the_wedged_producer_is_kept_open_until_its_call_returns() -> None:
    made: list[FakeProducer] = []
    io = _io(made)
    call = AsyncResult()
    io.replace_producer(StuckCallError("stuck", call))
    assert io.producer is made[1]
    assert not made[0].closed  # destroying a handle under a running call is unsafe
    call.set((True, None))  # the blocked call returns at last
    io.replace_producer(StuckCallError("stuck again", AsyncResult()))
    assert made[0].closed
    assert not made[1].closed
    assert io.producer is made[2]


def test_too_many_producers_still_blocked_is_fatal() -> None:
    made: list[FakeProducer] = []
    io = _io(made)
    for _ in range(MAX_WEDGED_PRODUCERS):
        io.replace_producer(StuckCallError("stuck", AsyncResult()))
    with pytest.raises(StuckCallError, match="wedged producers still blocked"):
        io.replace_producer(StuckCallError("stuck", AsyncResult()))
    assert not any(p.closed for p in made)


def test_without_a_producer_factory_the_stuck_call_stays_fatal() -> None:
    io = KafkaIO(object(), FakeProducer("only"), 0.01)  # type: ignore[arg-type]
    stuck = StuckCallError("stuck", AsyncResult())
    with pytest.raises(StuckCallError) as raised:
        io.replace_producer(stuck)
    assert raised.value is stuck

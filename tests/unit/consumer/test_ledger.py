"""The ledger commits only the leading run of finished records of each partition."""

from __future__ import annotations

import pytest

from consumer.ledger import Ledger, State
from consumer.outputs import Output, OutputKind


def _out(n: int) -> list[Output]:
    return [Output(OutputKind.RESULT, "results", b"k", str(n).encode(), [])]


def test_out_of_order_completion_commits_only_the_contiguous_prefix() -> None:
    ledger = Ledger()
    a, b, c = (ledger.track("t", 0, offset) for offset in (10, 11, 13))  # 12: a txn marker
    ledger.complete(c, _out(13))
    assert ledger.ready(State.DONE) == []
    ledger.complete(a, _out(10))
    assert ledger.ready(State.DONE) == [a]
    ledger.complete(b, _out(11))
    assert ledger.ready(State.DONE) == [a, b, c]
    assert ledger.release([a, b, c]) == {("t", 0): 14}
    assert ledger.pending() == 0


def test_partitions_are_independent() -> None:
    ledger = Ledger()
    slow = ledger.track("t", 0, 0)
    fast = ledger.track("t", 1, 0)
    ledger.complete(fast, _out(1))
    assert ledger.ready(State.DONE) == [fast]
    assert ledger.ready(State.DONE, [("t", 0)]) == []
    assert ledger.in_flight() == 1
    assert ledger.in_flight([("t", 0)]) == 1
    assert slow.state is State.IN_FLIGHT


def test_drop_returns_first_uncommitted_offset_and_ignores_late_completions() -> None:
    ledger = Ledger()
    first = ledger.track("t", 2, 5)
    ledger.track("t", 2, 6)
    assert ledger.drop([("t", 2), ("t", 9)]) == {("t", 2): 5}
    assert ledger.complete(first, _out(5)) is False
    assert first.state is State.IN_FLIGHT
    assert ledger.partitions() == []


def test_release_refuses_records_not_at_the_head() -> None:
    ledger = Ledger()
    ledger.track("t", 0, 0)
    second = ledger.track("t", 0, 1)
    with pytest.raises(ValueError, match="not at the head"):
        ledger.release([second])


def test_at_least_once_commits_only_published_records() -> None:
    ledger = Ledger()
    a, b = ledger.track("t", 0, 0), ledger.track("t", 0, 1)
    ledger.complete(a, _out(0))
    ledger.complete(b, _out(1))
    b.state = State.PUBLISHED
    assert ledger.waiting(State.DONE) == [a]
    assert ledger.ready(State.PUBLISHED) == []
    a.state = State.PUBLISHED
    assert ledger.commit_offsets(ledger.ready(State.PUBLISHED)) == {("t", 0): 2}


def test_in_flight_count_follows_completions_drops_and_late_completions() -> None:
    ledger = Ledger()
    a, b = ledger.track("t", 0, 0), ledger.track("t", 0, 1)
    c = ledger.track("t", 1, 0)
    assert (ledger.in_flight(), ledger.in_flight([("t", 0)])) == (3, 2)
    ledger.complete(a, _out(0))
    assert ledger.in_flight() == 2
    ledger.drop([("t", 0)])
    assert ledger.complete(b, _out(1)) is False  # late: already dropped, not counted again
    assert (ledger.in_flight(), ledger.in_flight([("t", 1)])) == (1, 1)
    ledger.complete(c, _out(2))
    assert ledger.in_flight() == 0

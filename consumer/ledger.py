"""Per-partition bookkeeping of fetched requests, for committing in order.

Uploads finish out of order, but an offset commit says "everything below this is done".
So each partition keeps its records in fetch order, and only the leading run of finished
records may be committed: the commit offset is the last of them + 1. Offsets are not
assumed contiguous (transaction markers and compaction leave gaps).

Pure data, no Kafka: `Checkpoint` and `Partitions` drive it; upload greenlets hand back
outputs through `Checkpoint.complete`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum, auto

from consumer.outputs import Output

PartitionKey = tuple[str, int]


class State(Enum):
    IN_FLIGHT = auto()  # being decoded or uploaded
    DONE = auto()  # outputs known, not produced yet
    PUBLISHING = auto()  # at_least_once: produced, waiting for delivery reports
    PUBLISHED = auto()  # at_least_once: every output acknowledged by the broker


@dataclass(eq=False)
class Record:
    """One fetched request and what it leaves behind."""

    topic: str
    partition: int
    offset: int
    state: State = State.IN_FLIGHT
    outputs: list[Output] = field(default_factory=list)
    unacked: int = 0  # at_least_once: outputs without a successful delivery report yet
    produced_at: float = 0.0  # at_least_once: when its outputs were queued to produce
    dropped: bool = False
    # Metrics of the outcome, counted when the record is committed: a request redone after
    # an abort, a rewind or a rebalance is then counted once, like its one committed result.
    on_commit: list[Callable[[], None]] = field(default_factory=list)

    @property
    def tp(self) -> PartitionKey:
        return (self.topic, self.partition)


class Ledger:
    """Records per partition in fetch order; decides what may be committed."""

    def __init__(self) -> None:
        self._parts: dict[PartitionKey, deque[Record]] = {}
        self._in_flight = 0  # kept, not counted: the loop asks on every step

    def track(self, topic: str, partition: int, offset: int) -> Record:
        record = Record(topic, partition, offset)
        self._parts.setdefault((topic, partition), deque()).append(record)
        self._in_flight += 1
        return record

    def complete(self, record: Record, outputs: list[Output]) -> bool:
        """Record the outputs of a finished request; False when it was dropped meanwhile."""
        if record.dropped:
            return False
        if record.state is State.IN_FLIGHT:
            self._in_flight -= 1
        record.outputs = outputs
        record.state = State.DONE
        return True

    def ready(self, state: State, tps: Iterable[PartitionKey] | None = None) -> list[Record]:
        """The leading records in `state` of each partition (of `tps`, default all)."""
        found: list[Record] = []
        for tp in self._select(tps):
            for record in self._parts[tp]:
                if record.state is not state:
                    break
                found.append(record)
        return found

    def waiting(self, state: State) -> list[Record]:
        """Every record in `state`, in any position."""
        return [r for part in self._parts.values() for r in part if r.state is state]

    def release(self, records: Iterable[Record]) -> dict[PartitionKey, int]:
        """Forget committed records, running their `on_commit`; returns the commit offset
        (last + 1) per partition. Records dropped meanwhile (their partition lost while a
        transaction ran) are skipped: they were forgotten already."""
        offsets: dict[PartitionKey, int] = {}
        for record in records:
            if record.dropped:
                continue
            part = self._parts.get(record.tp)
            if not part or part[0] is not record:
                raise ValueError(f"{record.tp}@{record.offset} is not at the head of its ledger")
            part.popleft()
            offsets[record.tp] = record.offset + 1
            for count in record.on_commit:
                count()
        return offsets

    def commit_offsets(self, records: Iterable[Record]) -> dict[PartitionKey, int]:
        """What `release` would return, without forgetting anything."""
        return {record.tp: record.offset + 1 for record in records}

    def drop(self, tps: Iterable[PartitionKey]) -> dict[PartitionKey, int]:
        """Forget the partitions' records (revoked, lost or rewound). Late completions are
        ignored. Returns, per partition that had records, the first uncommitted offset."""
        first: dict[PartitionKey, int] = {}
        for tp in list(tps):
            part = self._parts.pop(tp, None)
            if not part:
                continue
            first[tp] = part[0].offset
            for record in part:
                record.dropped = True
                if record.state is State.IN_FLIGHT:
                    self._in_flight -= 1
        return first

    def in_flight(self, tps: Iterable[PartitionKey] | None = None) -> int:
        if tps is None:
            return self._in_flight
        return sum(
            1 for tp in self._select(tps) for r in self._parts[tp] if r.state is State.IN_FLIGHT
        )

    def pending(self) -> int:
        """Records fetched but not committed yet."""
        return sum(len(part) for part in self._parts.values())

    def partitions(self) -> list[PartitionKey]:
        return [tp for tp, part in self._parts.items() if part]

    def _select(self, tps: Iterable[PartitionKey] | None) -> list[PartitionKey]:
        if tps is None:
            return list(self._parts)
        return [tp for tp in tps if tp in self._parts]

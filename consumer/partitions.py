"""`Partitions`: what this member holds of the requests topic, in one place.

The assigned partitions, the paused ones (backpressure), and the backlog: messages fetched
but not dispatched yet, in fetch order. Forgetting partitions (revoked, lost) clears all
of it and their ledger records; rewinding one (after an aborted or lost transaction)
drops its backlog and seeks the consumer back, so its records are fetched again.

Used only on the loop greenlet (the rebalance callbacks run there too, inside `fetch`).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable

from confluent_kafka import KafkaError, Message

from consumer.errors import FatalKafkaError
from consumer.kafka_io import KafkaIO
from consumer.ledger import Ledger, PartitionKey
from consumer.metrics import Metrics
from consumer.outputs import RequestMessage
from schemas.codec import RawHeaders

log = logging.getLogger(__name__)


def _headers(message: Message) -> RawHeaders:
    try:
        headers = message.headers()
    except (UnicodeDecodeError, ValueError, TypeError):  # a header name that is not UTF-8
        return None
    if isinstance(headers, dict):  # consumed headers are a list; dicts only on produce
        return list(headers.items())
    return headers


def _request_message(message: Message) -> RequestMessage:
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError("a consumed message without topic, partition or offset")
    return RequestMessage(
        topic, partition, offset, message.key(), message.value(), _headers(message)
    )


class Partitions:
    def __init__(self, io: KafkaIO, ledger: Ledger, metrics: Metrics) -> None:
        self._io = io
        self._ledger = ledger
        self._metrics = metrics
        self._assigned: set[PartitionKey] = set()
        self._paused: set[PartitionKey] = set()
        self._backlog: deque[Message] = deque()

    @property
    def held(self) -> bool:
        return bool(self._assigned)

    @property
    def backlog(self) -> int:
        """Messages fetched but not dispatched yet."""
        return len(self._backlog)

    def assign(self, tps: set[PartitionKey]) -> None:
        """Newly assigned (cooperative: added to what is held); pauses are re-applied by
        the next `apply_backpressure`."""
        self._assigned |= tps
        self._metrics.assigned.set(len(self._assigned))

    def forget(self, tps: set[PartitionKey]) -> None:
        """Revoked or lost: their records, backlog, assignment and pause are gone."""
        self._ledger.drop(tps)
        self._drop_backlog(tps)
        self._assigned -= tps
        self._paused -= tps
        self._metrics.assigned.set(len(self._assigned))

    def accept(self, messages: Iterable[Message]) -> None:
        """Fetched messages join the backlog; errors are logged, fatal ones raised."""
        for message in messages:
            err = message.error()
            if err is None:
                self._backlog.append(message)
            elif err.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer: %s", err)
                if err.fatal():
                    raise FatalKafkaError(str(err))

    def take(self) -> RequestMessage | None:
        """The next backlog message of a partition still held, or None."""
        while self._backlog:
            message = self._backlog.popleft()
            if (message.topic(), message.partition()) in self._assigned:
                return _request_message(message)
        return None

    def apply_backpressure(self, *, full: bool) -> None:
        """Pause every held partition while `full` or a backlog waits; else resume them."""
        if full or self._backlog:
            newly = self._assigned - self._paused
            self._io.pause(newly)
            self._paused |= newly
        elif self._paused:
            self._io.resume(self._paused & self._assigned)
            self._paused.clear()
        self._metrics.paused.set(len(self._paused))

    def rewind(self, offsets: dict[PartitionKey, int]) -> None:
        """Reprocess from `offsets` (their records already dropped from the ledger)."""
        self._drop_backlog(set(offsets))
        for tp, offset in offsets.items():
            if tp in self._assigned:
                self._io.seek(tp, offset)
                log.info("rewound %s[%d] to %d", tp[0], tp[1], offset)

    def _drop_backlog(self, tps: set[PartitionKey]) -> None:
        self._backlog = deque(m for m in self._backlog if (m.topic(), m.partition()) not in tps)

"""`ConsumerLoop`: the one greenlet that owns the Kafka handles.

Each `step`: serve producer callbacks, take already-fetched messages (`consume(timeout=0)`;
rebalance callbacks run in there, on this greenlet), dispatch them while request slots are
free, publish finished results (at_least_once), pause or resume partitions, and checkpoint
when due. Upload greenlets only fill in the ledger; nothing but this greenlet calls
librdkafka on the hub, and blocking calls go to the threadpool.

Rebalances (cooperative-sticky): on assign, note the partitions (pauses are re-applied on
the next step); on revoke, let the partitions' in-flight uploads finish within
`revoke_timeout_s`, checkpoint (EOS: commit the transaction), then forget the rest (the
new owner redoes it); on lost, forget without committing.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

import gevent
from confluent_kafka import KafkaError, KafkaException, Message
from gevent.event import Event

from consumer.backpressure import Slots
from consumer.checkpoint import Checkpoint
from consumer.dispatch import Dispatcher, Engine, Policy
from consumer.errors import FatalKafkaError
from consumer.kafka_io import KafkaIO, offload
from consumer.ledger import Ledger, PartitionKey, Record, State
from consumer.metrics import Metrics
from consumer.outputs import Source
from consumer.settings import ConsumerSettings, ProcessingGuarantee
from schemas.codec import RawHeaders

log = logging.getLogger(__name__)

_FLUSH_TIMEOUT_S = 30.0
_CLOSE_DEADLINE_S = 10.0


def _keys(partitions: Iterable[Any]) -> set[PartitionKey]:
    return {(p.topic, p.partition) for p in partitions}


def _headers(message: Message) -> RawHeaders:
    try:
        headers = message.headers()
    except (UnicodeDecodeError, ValueError, TypeError):  # a header name that is not UTF-8
        return None
    if isinstance(headers, dict):  # consumed headers are a list; dicts only on produce
        return list(headers.items())
    return headers


def _position(message: Message) -> tuple[str, int, int]:
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError("a consumed message without topic, partition or offset")
    return topic, partition, offset


class ConsumerLoop:
    def __init__(
        self,
        *,
        settings: ConsumerSettings,
        policy: Policy,
        io: KafkaIO,
        engine: Engine,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._io = io
        self._metrics = metrics
        self._eos = settings.processing_guarantee is ProcessingGuarantee.EXACTLY_ONCE
        self._ledger = Ledger()
        self._slots = Slots(settings.max_in_flight_requests)
        self._wake = Event()
        self._dispatcher = Dispatcher(
            policy=policy,
            engine=engine,
            ledger=self._ledger,
            slots=self._slots,
            metrics=metrics,
            wake=self._wake.set,
        )
        self._checkpoint = Checkpoint(
            io=io,
            ledger=self._ledger,
            guarantee=settings.processing_guarantee,
            metrics=metrics,
            rewind=self._rewind,
            interval_s=settings.checkpoint_interval_s,
            retry_timeout_s=settings.txn_retry_timeout_s,
            call_timeout_s=settings.txn_call_timeout_s,
        )
        self._assigned: set[PartitionKey] = set()
        self._paused: set[PartitionKey] = set()
        self._backlog: deque[Message] = deque()
        self._draining = False
        self._closing = False
        self._fatal: Exception | None = None
        self._producer_ready = False

    @property
    def ready(self) -> bool:
        return self._producer_ready and bool(self._assigned) and self._fatal is None

    def start(self) -> None:
        if self._eos:
            try:
                offload(self._io.producer.init_transactions, 60.0)
            except KafkaException as exc:
                raise FatalKafkaError(f"init_transactions: {exc}") from exc
        self._producer_ready = True
        self._io.consumer.subscribe(
            [self._settings.requests_topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )

    def on_error(self, err: KafkaError) -> None:
        """librdkafka's error callback (both handles): only fatal errors stop us."""
        if err.fatal():
            self._fatal = FatalKafkaError(str(err))
        log.warning("kafka: %s", err)

    def step(self) -> None:
        self._io.serve_producer()
        messages = self._io.fetch(self._slots.free)
        if self._fatal is not None:
            raise self._fatal
        for message in messages:
            self._accept(message)
        self._dispatch_backlog()
        if not self._eos:
            self._publish_done()
        self._apply_backpressure()
        if self._checkpoint.due():
            self._checkpoint.run()
        self._metrics.in_flight.set(self._slots.used)
        if not messages:
            self._wake.wait(self._settings.poll_idle_s)
            self._wake.clear()

    def drain(self, timeout_s: float) -> None:
        """Stop dispatching, let in-flight uploads finish within `timeout_s`, commit."""
        self._draining = True
        deadline = time.monotonic() + timeout_s
        while self._ledger.in_flight() and time.monotonic() < deadline:
            self.step()
        left = self._ledger.in_flight()
        if left:
            log.warning("drain timed out: %d requests dropped, they will be redone", left)
        self._commit_now(None)

    def close(self) -> None:
        """Leave the group. On the hub: at shutdown nothing else needs it."""
        self._closing = True
        try:
            self._io.consumer.close()
            if not self._eos:
                self._io.flush(_FLUSH_TIMEOUT_S)
            # Bounded: after a wedged transactional call, close() could wait for good.
            offload(self._io.producer.close, deadline_s=_CLOSE_DEADLINE_S)
        except Exception as exc:  # shutting down anyway; the summary line must still be written
            log.warning("closing the Kafka handles failed: %s", exc)

    def _accept(self, message: Message) -> None:
        err = message.error()
        if err is None:
            self._backlog.append(message)
        elif err.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer: %s", err)
            if err.fatal():
                raise FatalKafkaError(str(err))

    def _dispatch_backlog(self) -> None:
        while self._backlog and not self._draining and self._slots.try_acquire():
            message = self._backlog.popleft()
            topic, partition, offset = _position(message)
            if (topic, partition) not in self._assigned:
                self._slots.release()
                continue
            record = self._ledger.track(topic, partition, offset)
            source = Source(
                topic, partition, offset, message.key(), message.value(), _headers(message)
            )
            self._dispatcher.dispatch(record, source)

    def _publish_done(self) -> None:
        """at_least_once: produce finished results now; deliveries mark them PUBLISHED."""
        for record in self._ledger.waiting(State.DONE):
            record.state = State.PUBLISHING
            record.unacked = len(record.outputs)
            for output in record.outputs:
                self._io.produce(output, on_delivery=self._delivered(record))

    def _delivered(self, record: Record) -> Any:
        def on_delivery(err: KafkaError | None, _message: Message) -> None:
            if record.dropped or record.state is not State.PUBLISHING:
                return
            if err is not None:
                log.warning("delivery failed, will produce again: %s", err)
                record.state = State.DONE  # produce all its outputs again (at-least-once)
                return
            record.unacked -= 1
            if record.unacked == 0:
                record.state = State.PUBLISHED

        return on_delivery

    def _apply_backpressure(self) -> None:
        full = self._draining or self._slots.free == 0 or bool(self._backlog)
        if full:
            newly = self._assigned - self._paused
            self._io.pause(newly)
            self._paused |= newly
        elif self._paused:
            self._io.resume(self._paused & self._assigned)
            self._paused.clear()
        self._metrics.paused.set(len(self._paused))

    def _commit_now(self, tps: set[PartitionKey] | None) -> None:
        if not self._eos:
            self._publish_done()
            self._io.flush(_FLUSH_TIMEOUT_S)
        self._checkpoint.run(None if self._eos else tps, wait=True)

    def _rewind(self, first_offsets: dict[PartitionKey, int]) -> None:
        """After an aborted transaction: reprocess from the last committed offsets."""
        self._drop_backlog(set(first_offsets))
        for tp, offset in first_offsets.items():
            if tp in self._assigned:
                self._io.seek(tp, offset)
                log.info("rewound %s[%d] to %d", tp[0], tp[1], offset)

    def _drop_backlog(self, tps: set[PartitionKey]) -> None:
        self._backlog = deque(m for m in self._backlog if (m.topic(), m.partition()) not in tps)

    def _forget(self, tps: set[PartitionKey]) -> None:
        self._ledger.drop(tps)
        self._drop_backlog(tps)
        self._assigned -= tps
        self._paused -= tps
        self._metrics.assigned.set(len(self._assigned))

    # Rebalance callbacks: called on this greenlet from inside `fetch`.

    def _on_assign(self, _consumer: Any, partitions: list[Any]) -> None:
        tps = _keys(partitions)
        self._assigned |= tps
        self._metrics.assigned.set(len(self._assigned))
        log.info("assigned %s", sorted(tps))

    def _on_revoke(self, _consumer: Any, partitions: list[Any]) -> None:
        tps = _keys(partitions)
        log.info("revoked %s", sorted(tps))
        if not self._closing and self._fatal is None:
            deadline = time.monotonic() + self._settings.revoke_timeout_s
            while self._ledger.in_flight(tps) and time.monotonic() < deadline:
                gevent.sleep(self._settings.poll_idle_s)
            try:
                self._commit_now(tps)
            except FatalKafkaError as exc:  # raised again from step()
                self._fatal = exc
        self._forget(tps)

    def _on_lost(self, _consumer: Any, partitions: list[Any]) -> None:
        tps = _keys(partitions)
        log.warning("lost %s: their work is dropped, not committed", sorted(tps))
        self._forget(tps)

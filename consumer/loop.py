"""`ConsumerLoop`: the one greenlet that owns the Kafka handles.

Each `step`: serve producer callbacks, take already-fetched messages (`consume(timeout=0)`;
rebalance callbacks run in there, on this greenlet), dispatch them while request slots are
free, let the checkpoint publish what finished, pause or resume partitions, and ask for a
checkpoint when one is due. Upload greenlets only hand their outputs to the checkpoint;
nothing but this greenlet calls librdkafka on the hub, and blocking calls go to the
threadpool. Between steps with nothing fetched: while anything is held (in flight, not yet
committed or acknowledged), wait `poll_idle_s` (`ACK_POLL_S` while only acknowledgements
just due are awaited) or until an upload finishes; with nothing held, wait for the next
message itself (`KafkaIO.wait_for_messages`, in the threadpool), so a request arriving at
an idle consumer is taken as soon as librdkafka has it rather than at the next poll. A
rebalance callback can then run in that thread; with nothing held it only updates
`Partitions`. What is held per partition lives in `Partitions`; outputs, deliveries,
transactions and offsets in `Checkpoint`.

Rebalances (cooperative-sticky): on assign, note the partitions (pauses are re-applied on
the next step); on revoke, let the partitions' in-flight uploads finish within
`revoke_timeout_s`, checkpoint (EOS: commit the transaction), then forget the rest (the
new owner redoes it); on lost, forget without committing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import gevent
from confluent_kafka import KafkaError
from gevent.event import Event

from consumer.backpressure import Slots
from consumer.checkpoint import Checkpoint
from consumer.dispatch import Dispatcher, Engine, Policy
from consumer.errors import FatalKafkaError
from consumer.kafka_io import KafkaIO
from consumer.ledger import Ledger, PartitionKey
from consumer.metrics import Metrics
from consumer.partitions import Partitions
from consumer.settings import ConsumerSettings
from consumer.timeline import Timeline
from schemas import BlobRef

log = logging.getLogger(__name__)

#: Longest idle wait for a message: how late a stop (SIGTERM) may be noticed when idle.
IDLE_WAIT_S = 0.1
#: The wait between steps while only acknowledgements just due are awaited (`acks_due`).
ACK_POLL_S = 0.001


def _keys(partitions: Iterable[Any]) -> set[PartitionKey]:
    return {(p.topic, p.partition) for p in partitions}


class ConsumerLoop:
    def __init__(
        self,
        *,
        settings: ConsumerSettings,
        policy: Policy,
        io: KafkaIO,
        engine: Engine,
        metrics: Metrics,
        on_consumed: Callable[[str, list[BlobRef]], None] | None = None,
        timeline: Timeline | None = None,
    ) -> None:
        self._settings = settings
        self._io = io
        self._metrics = metrics
        self._ledger = Ledger()
        self._slots = Slots(settings.max_in_flight_requests)
        self._wake = Event()
        self._partitions = Partitions(io, self._ledger, metrics)
        self._checkpoint = Checkpoint(
            io=io,
            ledger=self._ledger,
            partitions=self._partitions,
            guarantee=settings.processing_guarantee,
            metrics=metrics,
            interval_s=settings.checkpoint_interval_s,
            retry_timeout_s=settings.txn_retry_timeout_s,
            call_timeout_s=settings.txn_call_timeout_s,
            on_committed=self._wake.set,
        )
        self._dispatcher = Dispatcher(
            policy=policy,
            engine=engine,
            collector=self._checkpoint,
            slots=self._slots,
            metrics=metrics,
            wake=self._wake.set,
            on_consumed=on_consumed,
            timeline=timeline,
        )
        if timeline is not None:
            timeline.instrument(io, self._checkpoint)
        self._draining = False
        self._closing = False
        self._fatal: Exception | None = None
        self._producer_ready = False
        self._idle_waiting = False  # in wait_for_messages: callbacks run in its thread

    @property
    def ready(self) -> bool:
        return (
            self._producer_ready
            and self._partitions.held
            and self._fatal is None
            and not self._checkpoint.stalled
        )

    def start(self) -> None:
        self._checkpoint.start()
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
        self._partitions.accept(messages)
        self._dispatch()
        self._checkpoint.publish()
        self._partitions.apply_backpressure(full=self._draining or self._slots.free == 0)
        if self._checkpoint.due():
            self._checkpoint.commit_soon()
        self._metrics.in_flight.set(self._slots.used)
        if not messages:
            if self._holds_nothing():
                self._idle_wait()
            else:
                self._wake.wait(self._hold_wait_s())
                self._wake.clear()

    def _holds_nothing(self) -> bool:
        """No record in the ledger (so nothing in flight, to commit or to acknowledge),
        nothing waiting to be dispatched or delivered: no callback would have anything to
        wait for or commit."""
        return (
            not self._draining
            and self._fatal is None
            and not self._ledger.pending()
            and not self._checkpoint.busy
            and not self._partitions.backlog
            and not len(self._io.producer)
        )

    def _hold_wait_s(self) -> float:
        """An upload finishing or a transaction ending wakes the loop; a delivery report
        cannot, since it is only served by the next step's poll. With nothing uploading, a
        result's acknowledgement is all the loop waits for, and a request arriving
        meanwhile would wait the whole `poll_idle_s` (a lone request's "appended ->
        fetched" measured 6.6 ms, 1.1 with this): while acknowledgements are due, poll
        every `ACK_POLL_S`."""
        if self._checkpoint.acks_due():
            return min(ACK_POLL_S, self._settings.poll_idle_s)
        return self._settings.poll_idle_s

    def _idle_wait(self) -> None:
        """Wait for the next message in the threadpool; the next step dispatches it."""
        self._idle_waiting = True
        try:
            messages = self._io.wait_for_messages(self._slots.free, IDLE_WAIT_S)
        finally:
            self._idle_waiting = False
        if self._fatal is not None:
            raise self._fatal
        self._partitions.accept(messages)

    def drain(self, timeout_s: float) -> None:
        """Stop dispatching, let in-flight uploads finish within `timeout_s`, commit."""
        self._draining = True
        deadline = time.monotonic() + timeout_s
        while self._ledger.in_flight() and time.monotonic() < deadline:
            self.step()
        left = self._ledger.in_flight()
        if left:
            log.warning("drain timed out: %d requests dropped, they will be redone", left)
        self._checkpoint.commit(final=True)

    def close(self) -> None:
        """Leave the group, then close the producer. On the hub: at shutdown nothing else
        needs it."""
        self._closing = True
        try:
            self._io.consumer.close()
            self._checkpoint.close()
        except Exception:  # shutting down anyway; the summary line must still be written
            log.exception("closing the Kafka handles failed")

    def _dispatch(self) -> None:
        while not self._draining and self._slots.free:
            message = self._partitions.take()
            if message is None:
                return
            self._slots.try_acquire()
            record = self._ledger.track(message.topic, message.partition, message.offset)
            self._dispatcher.dispatch(record, message)

    # Rebalance callbacks: called on this greenlet from inside `fetch`, or in the threadpool
    # from inside `wait_for_messages`, which is only entered holding nothing.

    def _on_assign(self, _consumer: Any, partitions: list[Any]) -> None:
        tps = _keys(partitions)
        self._partitions.assign(tps)
        log.info("assigned %s", sorted(tps))

    def _on_revoke(self, _consumer: Any, partitions: list[Any]) -> None:
        tps = _keys(partitions)
        log.info("revoked %s", sorted(tps))
        if not self._closing and self._fatal is None and not self._idle_waiting:
            deadline = time.monotonic() + self._settings.revoke_timeout_s
            while self._ledger.in_flight(tps) and time.monotonic() < deadline:
                gevent.sleep(self._settings.poll_idle_s)
            try:
                self._checkpoint.commit(tps, final=True)
            except FatalKafkaError as exc:  # raised again from step()
                self._fatal = exc
        self._partitions.forget(tps)

    def _on_lost(self, _consumer: Any, partitions: list[Any]) -> None:
        tps = _keys(partitions)
        log.warning("lost %s: their work is dropped, not committed", sorted(tps))
        self._partitions.forget(tps)

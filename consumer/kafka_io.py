"""The Kafka handles (one consumer, one producer) and hub-safe ways to call them.

Only the loop greenlet (`consumer.loop.ConsumerLoop`) calls these methods, but for
`pump_producer`'s greenlet, which only polls the producer; upload greenlets never touch
Kafka. librdkafka calls that can block run in gevent's threadpool
(`upload_engine.offload.offload`), and polling is `consume(timeout=0)` + a short gevent
sleep, so the hub is never frozen (a blocking `poll(1.0)` on the hub would stall every
greenlet for as long). Callbacks (rebalance, delivery reports, stats) therefore run on the
hub, where they may touch the ledger without locks (none of them yields); the one exception
is an idle consumer's `wait_for_messages`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import gevent
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from consumer.errors import FatalKafkaError, StuckCallError
from consumer.group_fencing import in_generation
from consumer.kafka_faults import Context, fatal_reason
from consumer.ledger import PartitionKey
from consumer.outputs import Output, OutputKind
from consumer.settings import ConsumerSettings, ProcessingGuarantee
from kafka_config.connection import KafkaConnection
from upload_engine.offload import offload

log = logging.getLogger(__name__)

_TOO_LARGE = KafkaError.MSG_SIZE_TOO_LARGE
DeliveryCallback = Callable[[KafkaError | None, Message], None]
_CLOSE_DEADLINE_S = 10.0


def default_transactional_id(group_id: str) -> str:
    """Host + pid: unique per process on one machine, and stable across restarts of a
    container (pid 1, hostname = pod name), so a restarted replica fences its zombie."""
    return f"{group_id}-{socket.gethostname()}-{os.getpid()}"


# librdkafka's own lines (broker down, coordinator moves) go through logging, so they come
# out in the configured JSON/text format instead of raw on stderr. They are served by
# poll/consume: the consumer's on the loop greenlet, the producer's also by `pump_producer`.
LIBRDKAFKA_LOG = logging.getLogger("consumer.librdkafka")


def consumer_config(connection: KafkaConnection, settings: ConsumerSettings) -> dict[str, Any]:
    heartbeat = min(3000, settings.session_timeout_ms // 3)
    return {
        "client.id": f"upload-stream-consumer-{os.getpid()}",  # KAFKA_CLIENT_ID wins
        **connection.librdkafka(),
        "group.id": settings.group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
        "partition.assignment.strategy": "cooperative-sticky",
        "auto.offset.reset": settings.auto_offset_reset,
        "max.poll.interval.ms": settings.max_poll_interval_ms,
        "session.timeout.ms": settings.session_timeout_ms,
        "heartbeat.interval.ms": heartbeat,
        "fetch.wait.max.ms": settings.fetch_wait_max_ms,
        "statistics.interval.ms": settings.stats_interval_ms,
        "logger": LIBRDKAFKA_LOG,
    }


def producer_config(
    connection: KafkaConnection, settings: ConsumerSettings, transactional_id: str | None
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "client.id": f"upload-stream-producer-{os.getpid()}",  # KAFKA_CLIENT_ID wins
        **connection.librdkafka(),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": settings.linger_ms,
        "logger": LIBRDKAFKA_LOG,
    }
    if settings.processing_guarantee is ProcessingGuarantee.EXACTLY_ONCE:
        config["transactional.id"] = transactional_id
        config["transaction.timeout.ms"] = settings.transaction_timeout_ms
    return config


def _tps(tps: Iterable[PartitionKey]) -> list[TopicPartition]:
    return [TopicPartition(topic, partition) for topic, partition in tps]


# Wedged producers still blocked in a call, beyond which the process exits for a restart:
# each holds an OS thread of the hub's threadpool and a librdkafka handle's threads.
MAX_WEDGED_PRODUCERS = 3


class KafkaIO:
    """The consumer and producer handles; every method is safe to call on the hub.

    `new_producer` makes a producer with the same configuration (transactional.id
    included): `replace_producer` swaps a wedged one for it."""

    def __init__(
        self,
        consumer: Consumer,
        producer: Producer,
        idle_s: float,
        new_producer: Callable[[], Producer] | None = None,
        context: Context | None = None,
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self._idle_s = idle_s
        self._new_producer = new_producer
        self._wedged: list[tuple[Producer, Any]] = []
        self._warned_metadata = False
        self._context = context or Context("upload-stream", None, "uploads.requests")
        #: An error no retry fixes (kafka_faults), raised by the next `fetch`/`serve_producer`.
        self.failure: FatalKafkaError | None = None

    def fail(self, err: KafkaError, *, topic: str | None = None) -> bool:
        """Note `err` if no retry can fix it (the first such error wins); True if so."""
        reason = fatal_reason(err, self._context, topic=topic)
        if reason is not None and self.failure is None:
            self.failure = FatalKafkaError(reason)
        return reason is not None

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    def preflight(self, timeout_s: float) -> None:
        """Before anything waits on the brokers: metadata round trips of at most a second
        each, serving both handles' callbacks (errors, librdkafka's log lines) between, so
        a wrong password or certificate ends start-up in seconds, saying so, instead of a
        transactional call timing out a minute later with the cause lost. (Short slices:
        a call still running in a thread would hold up closing the handle.)"""
        deadline = time.monotonic() + timeout_s
        while True:
            answered = offload(self._metadata, 1.0)
            self.producer.poll(0)
            self.fetch(1)  # nothing assigned yet: errors only (a group ACL missing)
            if answered:
                return
            if time.monotonic() > deadline:
                raise FatalKafkaError(f"no broker answered within {timeout_s:g} s")

    def _metadata(self, timeout_s: float) -> bool:
        try:
            return bool(self.producer.list_topics(None, timeout_s).brokers)
        except KafkaException:
            return False

    def check_topics(self, reads: Iterable[str], writes: Iterable[str], timeout_s: float) -> None:
        """Every topic we read or write exists and may be described: else exit now, not
        after the first request was uploaded (Read and Write both imply Describe)."""
        wanted = {**dict.fromkeys(writes, "Write"), **dict.fromkeys(reads, "Read")}
        for topic, operation in wanted.items():
            error = self._described(topic, timeout_s)
            if error is None:
                continue
            if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise FatalKafkaError(f"topic {topic} does not exist")
            if error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                raise FatalKafkaError(f"not authorized: missing {operation} on topic {topic}")
            raise FatalKafkaError(f"topic {topic}: {error.str()}")

    def topic_error(self, topic: str, timeout_s: float) -> KafkaError | None:
        """What the cluster says of `topic` now (UNKNOWN_TOPIC_OR_PART once it is deleted,
        TOPIC_AUTHORIZATION_FAILED without Describe), None when it is there or no broker
        answered: for a failed transaction, whose records only say they timed out."""
        try:
            return self._described(topic, timeout_s)
        except KafkaException:
            return None

    def _described(self, topic: str, timeout_s: float) -> KafkaError | None:
        # One topic per request: a listing of all topics silently omits those we may not
        # describe, where a request naming it answers TOPIC_AUTHORIZATION_FAILED.
        found = offload(self.producer.list_topics, topic, timeout_s).topics.get(topic)
        if found is None:
            return KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, f"no topic {topic} in metadata")
        error: KafkaError | None = found.error
        return error

    def replace_producer(self, stuck: StuckCallError) -> None:
        """Swap the producer blocked in `stuck`'s call for a new one (not yet initialised).

        The old handle is not closed, nor dropped, while its call is still blocked: a
        librdkafka handle destroyed under a running call is a use-after-free. It is closed
        once that call returns (checked at each replacement); the new producer's
        `init_transactions` fences it meanwhile. Too many still blocked: `stuck` is raised,
        the process exits and its supervisor starts a clean one."""
        if self._new_producer is None:
            raise stuck
        self._wedged.append((self.producer, stuck.pending))
        self._close_returned()
        if len(self._wedged) > MAX_WEDGED_PRODUCERS:
            raise StuckCallError(f"{len(self._wedged)} wedged producers still blocked") from stuck
        self.producer = self._new_producer()

    def _close_returned(self) -> None:
        blocked: list[tuple[Producer, Any]] = []
        for producer, pending in self._wedged:
            if pending is not None and not pending.ready():
                blocked.append((producer, pending))
                continue
            try:
                offload(producer.close, deadline_s=_CLOSE_DEADLINE_S, stuck_error=StuckCallError)
            except Exception as exc:  # it was wedged once: log, never fail recovery for it
                log.warning("closing a replaced producer failed: %s", exc)
        self._wedged = blocked

    def committed_offsets(
        self, tps: Iterable[PartitionKey], timeout_s: float
    ) -> dict[PartitionKey, int]:
        """The group's committed offsets of `tps` (those that have one). read_committed makes
        librdkafka ask for stable offsets: the broker answers once no transaction touching
        them is still open, so the answer says whether a lost transaction committed."""
        parts = _tps(tps)
        if not parts:
            return {}
        found = offload(
            self.consumer.committed,
            parts,
            timeout_s,
            deadline_s=timeout_s + 10.0,
            stuck_error=StuckCallError,
        )
        return {(p.topic, p.partition): p.offset for p in found if p.offset >= 0 and not p.error}

    def fetch(self, max_messages: int) -> list[Message]:
        """Up to `max_messages` already-fetched messages; never waits (rebalance callbacks
        run in here). With everything paused it still serves the group protocol. An error
        no retry fixes (a missing group or topic ACL) raises `FatalKafkaError`."""
        return self._checked(self.consumer.consume(num_messages=max(1, max_messages), timeout=0))

    def wait_for_messages(self, max_messages: int, timeout_s: float) -> list[Message]:
        """`fetch`, but waiting up to `timeout_s` for the first message, in the threadpool:
        `poll` returns as soon as one arrives (`consume(n, timeout)` would wait for n), so
        an idle consumer sees a request at once instead of at its next poll; the rest come
        from `fetch`. The consumer's callbacks (rebalance, errors, log lines) then run in
        that OS thread, not on the hub: only for a caller with nothing held that such a
        callback would have to wait for or commit (`ConsumerLoop._idle_wait`)."""
        first = offload(self.consumer.poll, timeout_s)
        if first is None:
            return self._checked([])
        rest = self.fetch(max_messages - 1) if max_messages > 1 else []
        return [*self._checked([first]), *rest]

    def _checked(self, consumed: list[Message]) -> list[Message]:
        messages = list(consumed)
        for message in messages:
            err = message.error()
            if err is not None and err.code() != KafkaError._PARTITION_EOF:
                self.fail(err)
        self._raise_failure()
        return messages

    def produce(self, output: Output, on_delivery: DeliveryCallback | None = None) -> None:
        """Queue one record; when librdkafka's queue is full, serve callbacks and retry.

        A dead letter too large to produce (the original value plus our headers over
        `message.max.bytes`) goes without its value, saying so in a header, rather than
        failing every transaction that would carry it. A delivery that fails for good
        (no Write ACL, no such topic) is noted in `failure`, raised by the next step."""
        on_delivery = self._watch(output.topic, on_delivery)
        while True:
            try:
                self.producer.produce(
                    output.topic,
                    value=output.value,
                    key=output.key,
                    headers=list[tuple[str, str | bytes | None]](output.headers),
                    on_delivery=on_delivery,
                )
                return
            except BufferError:
                self.producer.poll(0)
                gevent.sleep(self._idle_s)
            except KafkaException as exc:
                err = exc.args[0] if exc.args else None
                too_large = isinstance(err, KafkaError) and err.code() == _TOO_LARGE
                if not (too_large and output.kind is OutputKind.DLQ and output.value):
                    raise
                log.warning(
                    "dead letter of %d bytes too large: sent without its value",
                    len(output.value or b""),
                )
                output = replace(
                    output,
                    value=None,
                    headers=[*output.headers, ("dlq_value_omitted", b"too_large")],
                )

    def _watch(self, topic: str, on_delivery: DeliveryCallback | None) -> DeliveryCallback:
        def report(err: KafkaError | None, message: Message) -> None:
            if err is not None:
                self.fail(err, topic=topic)
            if on_delivery is not None:
                on_delivery(err, message)

        return report

    def pump_producer(self, interval_s: float) -> None:
        """Serve the producer's queue every `interval_s`, for ever (its own greenlet).

        librdkafka hands its log lines to the queue that `poll` serves, so without this
        they wait while the loop greenlet is in a transactional call or its retries (up to
        `txn_retry_timeout_s`), and come out at once when it is over. Error and delivery
        callbacks are served too: they only note state, on the hub, like the loop's own
        `serve_producer`. The consumer's lines share its message queue: only the loop's
        `fetch` may serve them."""
        while True:
            self.producer.poll(0)
            gevent.sleep(interval_s)

    def serve_producer(self) -> None:
        """Run due producer callbacks (delivery reports, errors) on the hub; raise an
        error no retry fixes (`failure`)."""
        self.producer.poll(0)
        self._raise_failure()

    def flush(self, timeout_s: float) -> int:
        """Wait for outstanding deliveries without blocking the hub; returns how many remain."""
        deadline = time.monotonic() + timeout_s
        while len(self.producer) and time.monotonic() < deadline:
            self.producer.poll(0)
            gevent.sleep(self._idle_s)
        self.producer.poll(0)
        return len(self.producer)

    def pause(self, tps: Iterable[PartitionKey]) -> None:
        parts = _tps(tps)
        if parts:
            self.consumer.pause(parts)

    def resume(self, tps: Iterable[PartitionKey]) -> None:
        parts = _tps(tps)
        if parts:
            self.consumer.resume(parts)

    def seek(self, tp: PartitionKey, offset: int) -> bool:
        try:
            self.consumer.seek(TopicPartition(tp[0], tp[1], offset))
        except KafkaException as exc:
            log.warning("seek %s[%d] to %d failed: %s", tp[0], tp[1], offset, exc)
            return False
        return True

    def commit_offsets(self, offsets: dict[PartitionKey, int], *, wait: bool) -> None:
        parts = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        if not parts:
            return
        if wait:
            offload(lambda: self.consumer.commit(offsets=parts, asynchronous=False))
        else:
            self.consumer.commit(offsets=parts, asynchronous=True)

    def brokers_up(self, timeout_s: float) -> bool:
        """True when a broker answers a metadata request within `timeout_s` (threadpool)."""
        try:
            metadata = offload(self.producer.list_topics, None, timeout_s)
        except KafkaException:
            return False
        return bool(metadata.brokers)

    def send_offsets_to_transaction(
        self, offsets: dict[PartitionKey, int], timeout_s: float, deadline_s: float | None = None
    ) -> None:
        parts = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        metadata = self.consumer.consumer_group_metadata()
        member = in_generation(metadata)
        if member is False:
            # Abortable: the transaction is aborted and its partitions rewound; by then the
            # loop has heard of the lost partitions or rejoined the group.
            raise KafkaException(
                KafkaError(
                    KafkaError._STATE,
                    "not a member of a group generation: offsets would not be fenced",
                    txn_requires_abort=True,
                )
            )
        if member is None and not self._warned_metadata:
            self._warned_metadata = True
            log.warning("unknown group metadata format: zombie offsets are left to the broker")
        offload(
            self.producer.send_offsets_to_transaction,
            parts,
            metadata,
            timeout_s,
            deadline_s=deadline_s,
            stuck_error=StuckCallError,
        )

"""`Checkpoint`: the one class that commits.

A checkpoint covers, per partition, the leading run of finished records in the ledger
(requests finish out of order; an offset commit must not skip an unfinished one).

exactly_once, one Kafka transaction per checkpoint:
  1. pick the leading DONE records of each partition;
  2. begin a transaction and produce their results and dead letters into it;
  3. send their offsets (last + 1) to the transaction with the group's metadata;
  4. commit the transaction;
  5. forget the records.
Results are produced only here, never from upload greenlets: a result must be in the same
transaction as the offset that covers its request, or a crash between the two would
publish it twice. The price: a result becomes visible once every earlier request of its
partition has finished too (uploads themselves still run concurrently).

at_least_once: the loop produces each result as soon as it is ready; the checkpoint commits
(asynchronously, synchronously on revoke) the leading run of records whose deliveries the
broker acknowledged.

Transaction errors follow librdkafka's classes: retriable -> retry the same call until
`retry_timeout_s`; abortable -> abort, drop the partitions' records and seek them back to
the last committed offset, so they are reprocessed (uploads are idempotent:
content-addressed keys); fatal -> `FatalKafkaError`, the process exits non-zero. A retry
is only started once a broker answers again.

A transactional call still blocked well past its own timeout (librdkafka #5456, after a
broker outage) wedges its producer for good. Recovery, in-process: a new producer with the
same transactional.id (its `init_transactions` fences the old one and makes the
coordinator finish the lost transaction, committed or aborted); then every partition with
uncommitted records is rewound to the offset the group has committed, which tells which of
the two happened. Nothing is published twice and nothing skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import gevent
from confluent_kafka import KafkaError, KafkaException

from consumer.errors import FatalKafkaError, StuckCallError
from consumer.kafka_faults import UNNAMED, fatal_reason
from consumer.kafka_io import KafkaIO, offload
from consumer.ledger import Ledger, PartitionKey, Record, State
from consumer.metrics import Metrics
from consumer.settings import ProcessingGuarantee

log = logging.getLogger(__name__)

T = TypeVar("T")
Rewind = Callable[[dict[PartitionKey, int]], None]


class AbortRequired(Exception):  # noqa: N818  (internal signal, never escapes this module)
    pass


def _kafka_error(exc: KafkaException) -> KafkaError | None:
    first = exc.args[0] if exc.args else None
    return first if isinstance(first, KafkaError) else None


class Checkpoint:
    def __init__(
        self,
        *,
        io: KafkaIO,
        ledger: Ledger,
        guarantee: ProcessingGuarantee,
        metrics: Metrics,
        rewind: Rewind,
        interval_s: float,
        retry_timeout_s: float,
        call_timeout_s: float = 30.0,
        stuck_after_s: float | None = None,
    ) -> None:
        self._io = io
        self._ledger = ledger
        self._eos = guarantee is ProcessingGuarantee.EXACTLY_ONCE
        self._metrics = metrics
        self._rewind = rewind
        self._interval_s = interval_s
        self._retry_timeout_s = retry_timeout_s
        self._call_timeout_s = call_timeout_s
        # A call still blocked this long after its own timeout never returns (see offload).
        self._stuck_s = stuck_after_s if stuck_after_s is not None else call_timeout_s + 10.0
        self._last = _now() - interval_s

    def due(self) -> bool:
        """The interval exists to batch results into fewer transactions, so it only holds
        results back while other requests are still uploading and could join the batch.
        With nothing in flight, waiting batches nothing: commit on the next loop step. The
        clock restarts only when something was committed."""
        return not self._ledger.in_flight() or _now() - self._last >= self._interval_s

    def run(self, tps: Iterable[PartitionKey] | None = None, *, wait: bool = False) -> int:
        """Commit what is ready (of `tps`, default all partitions); returns records committed.
        `wait`: at_least_once commits synchronously (on revoke and at shutdown)."""
        if self._eos:
            committed = self._transaction(self._ledger.ready(State.DONE, tps))
        else:
            committed = self._commit_offsets(self._ledger.ready(State.PUBLISHED, tps), wait)
        if committed:
            self._last = _now()
        return committed

    def _commit_offsets(self, records: list[Record], wait: bool) -> int:
        if records:
            self._io.commit_offsets(self._ledger.commit_offsets(records), wait=wait)
            self._ledger.release(records)
            self._metrics.offsets_committed()
        return len(records)

    def _transaction(self, records: list[Record]) -> int:
        if not records:
            return 0
        offsets = self._ledger.commit_offsets(records)
        producer = self._io.producer
        try:
            try:
                self._call(producer.begin_transaction)
                for record in records:
                    for output in record.outputs:
                        self._io.produce(output)
                self._call(
                    self._io.send_offsets_to_transaction,
                    offsets,
                    self._call_timeout_s,
                    self._stuck_s,
                )
                self._blocking(producer.commit_transaction)
            except AbortRequired as exc:
                self._abort(offsets, exc)
                self._raise_if_unfixable(exc, records)
                return 0
        except StuckCallError as exc:
            self._replace_producer(exc)
            return 0
        self._ledger.release(records)
        self._metrics.transaction("committed")
        self._metrics.offsets_committed()
        return len(records)

    def _raise_if_unfixable(self, abort: AbortRequired, records: list[Record]) -> None:
        """An abort no retry can fix (no Write ACL on a topic, a topic gone: kafka_faults)
        ends the process, instead of rewinding and uploading the same requests for ever."""
        cause = abort.__cause__
        err = _kafka_error(cause) if isinstance(cause, KafkaException) else None
        topics = " or ".join(sorted({o.topic for r in records for o in r.outputs}))
        reason = fatal_reason(err, UNNAMED, topic=topics) if err is not None else None
        if reason is not None:
            raise FatalKafkaError(reason) from cause

    def _abort(self, offsets: dict[PartitionKey, int], cause: Exception) -> None:
        log.warning("aborting transaction: %s", cause)
        self._unabortable(self._io.producer.abort_transaction)
        self._metrics.transaction("aborted")
        self._rewind(self._ledger.drop(offsets))

    def _replace_producer(self, stuck: StuckCallError) -> None:
        log.warning(
            "transactional producer wedged (%s): replacing it and rewinding to the committed "
            "offsets",
            stuck,
        )
        self._io.replace_producer(stuck)
        self._unabortable(self._io.producer.init_transactions)
        self._metrics.transaction("producer_replaced")
        uncommitted = self._ledger.drop(self._ledger.partitions())
        committed = self._committed(list(uncommitted))
        # No committed offset yet: the first uncommitted record is where the group starts.
        self._rewind({tp: committed.get(tp, first) for tp, first in uncommitted.items()})

    def _blocking(self, fn: Callable[[float], None]) -> None:
        """A transactional call that waits on the broker: in the threadpool, retried while
        retriable, and past `stuck_after_s` a `StuckCallError` (the handle is wedged)."""
        self._call(lambda: offload(fn, self._call_timeout_s, deadline_s=self._stuck_s))

    def _unabortable(self, fn: Callable[[float], None]) -> None:
        """`_blocking` for abort and init: if these fail abortably, nothing is left to
        abort, and the producer is unusable."""
        try:
            self._blocking(fn)
        except AbortRequired as exc:
            name = getattr(fn, "__name__", "transactional call")
            raise FatalKafkaError(f"{name} failed: {exc}") from exc

    def _committed(self, tps: list[PartitionKey]) -> dict[PartitionKey, int]:
        """The group's committed offsets, asked until a broker answers (within the retry
        budget): rewinding on a guess could skip records or publish them twice. librdkafka
        flags none of its errors here retriable, so every non-fatal one is retried."""
        return self._call(self._io.committed_offsets, tps, self._call_timeout_s, retry_any=True)

    def _call(self, fn: Callable[..., T], *args: Any, retry_any: bool = False) -> T:
        """Call a transactional API, retrying while librdkafka says it is retriable (or,
        with `retry_any`, until it says fatal)."""
        deadline = _now() + self._retry_timeout_s
        delay = 0.1
        while True:
            try:
                return fn(*args)
            except KafkaException as exc:
                err = _kafka_error(exc)
                if err is None or err.fatal():
                    raise FatalKafkaError(str(exc)) from exc
                if err.txn_requires_abort():
                    raise AbortRequired(str(exc)) from exc
                if not (retry_any or err.retriable()) or _now() >= deadline:
                    raise FatalKafkaError(f"gave up: {exc}") from exc
                log.info("retrying %s: %s", getattr(fn, "__name__", "a Kafka call"), exc)
                self._await_brokers(deadline)
                gevent.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _await_brokers(self, deadline: float) -> None:
        """Before a retry, wait (until `deadline`) for a broker to answer again.

        A transactional call started while the coordinator is unreachable can block past
        its own timeout, for good, once the broker comes back (librdkafka #5456, seen here
        with `send_offsets_to_transaction` across a 20 s broker outage): so no call is
        started into an outage; the retry waits for the cluster instead.
        """
        while _now() < deadline and not self._io.brokers_up(min(2.0, self._call_timeout_s)):
            gevent.sleep(0.5)


def _now() -> float:
    return time.monotonic()

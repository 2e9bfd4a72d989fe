"""`Checkpoint`: the one owner of "outputs -> broker -> offsets", for both guarantees.

It collects each finished record's outputs (its result, its dead letter), produces them,
and commits offsets. A checkpoint covers, per partition, the leading run of finished
records in the ledger (requests finish out of order; an offset commit must not skip an
unfinished one). The loop only says when: `publish` each step, `commit_soon` when `due`,
and `commit(final=True)` on revoke and at shutdown.

exactly_once runs the transaction of `commit_soon` on a greenlet of its own, at most one at
a time: while it waits on the broker (send offsets, commit: tens of ms under load), the
loop keeps fetching and dispatching, and what finishes meanwhile joins the next
transaction. A synchronous `commit` (final) first waits for it; its error is raised on the
loop by the next `commit_soon` or `commit`.

exactly_once, one Kafka transaction per checkpoint (`_transaction`):
  1. pick the leading DONE records of each partition;
  2. begin a transaction and produce their results and dead letters into it;
  3. send their offsets (last + 1) to the transaction with the group's metadata;
  4. commit the transaction;
  5. forget the records.
Results are produced only here, never from upload greenlets: a result must be in the same
transaction as the offset that covers its request, or a crash between the two would
publish it twice. The price: a result becomes visible once every earlier request of its
partition has finished too (uploads themselves still run concurrently).

at_least_once: `publish` produces each record's outputs as soon as it is ready, and
`consumer.deliveries` marks the record PUBLISHED once the broker acknowledged every one of
them; a commit covers the leading run of PUBLISHED records (asynchronously; `final`
first waits for outstanding acknowledgements, then commits synchronously).

Transaction errors (`consumer.transactions`): retriable -> retried; abortable -> abort,
drop the partitions' records and seek them back to the last committed offset, so they are
reprocessed (uploads are idempotent: content-addressed keys); fatal -> `FatalKafkaError`.
An output that no retry can write (no ACL, topic missing, too large) raises
`OutputWriteError`, in both guarantees, instead of aborting and rewinding for ever. A
topic deleted under a transactional producer fails its records only as timed out: after
such an abort the checkpoint asks the cluster for the output topics' metadata, and an
unknown or forbidden topic raises `OutputWriteError` too. Whatever the cause,
`MAX_ABORTS_WITHOUT_COMMIT` transactions aborted in a row while the brokers answer end
the process (`FatalKafkaError`, naming the last cause) rather than re-uploading for ever;
aborts during an outage (no broker answers) are recovered in-process, as before.

`stalled` (so `/readyz`) says the consumer cannot commit: a transaction (or, at least
once, a delivery) failed since the last commit, or a transaction has run (at least once:
a partition's leading record has waited for its acknowledgement) for `STALLED_AFTER_S`.

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
from functools import partial

import gevent
from confluent_kafka import KafkaError, KafkaException, Message

from consumer.deliveries import Deliveries
from consumer.errors import FatalKafkaError, OutputWriteError, StuckCallError
from consumer.kafka_io import KafkaIO
from consumer.ledger import Ledger, PartitionKey, Record, State
from consumer.metrics import Metrics
from consumer.outputs import Output
from consumer.partitions import Partitions
from consumer.settings import ProcessingGuarantee
from consumer.transactions import AbortRequired, TransactionalCalls, kafka_error
from upload_engine.offload import offload

log = logging.getLogger(__name__)

_INIT_TIMEOUT_S = 60.0
_FLUSH_TIMEOUT_S = 30.0
_CLOSE_DEADLINE_S = 10.0
_METADATA_TIMEOUT_S = 2.0
#: A transaction that fails this many times in a row, never committing, while the brokers
#: answer, fails for a cause that does not pass.
MAX_ABORTS_WITHOUT_COMMIT = 5
#: A checkpoint commits in milliseconds; one still running after this cannot commit.
STALLED_AFTER_S = 5.0
#: at_least_once: how long after a produce its acknowledgement is expected (a broker
#: round trip on a healthy cluster); past it the loop stops polling for it eagerly.
ACK_WINDOW_S = 0.05
Unwritable = list[tuple[str, KafkaError]]


class Checkpoint:
    def __init__(
        self,
        *,
        io: KafkaIO,
        ledger: Ledger,
        partitions: Partitions,
        guarantee: ProcessingGuarantee,
        metrics: Metrics,
        interval_s: float,
        retry_timeout_s: float,
        call_timeout_s: float = 30.0,
        stuck_after_s: float | None = None,
        flush_timeout_s: float = _FLUSH_TIMEOUT_S,
        on_committed: Callable[[], None] | None = None,
    ) -> None:
        self._io = io
        self._ledger = ledger
        self._partitions = partitions
        self._eos = guarantee is ProcessingGuarantee.EXACTLY_ONCE
        self._metrics = metrics
        self._interval_s = interval_s
        self._flush_timeout_s = flush_timeout_s
        # A call still blocked this long after its own timeout never returns (see offload).
        stuck_s = stuck_after_s if stuck_after_s is not None else call_timeout_s + 10.0
        self._txn = TransactionalCalls(
            io,
            retry_timeout_s=retry_timeout_s,
            call_timeout_s=call_timeout_s,
            stuck_after_s=stuck_s,
        )
        self._deliveries = Deliveries(io)
        self._last = _now() - interval_s
        self._aborts_in_a_row = 0
        # Since when the oldest commit has waited: a transaction running (exactly_once),
        # the acknowledgements of a partition's leading records (at_least_once).
        self._waiting_since: float | None = None
        self._failed_at: float | None = None  # a failure not followed by a commit yet
        self._retries_seen = 0
        self._busy_at = _now()  # the last time anything waited to be committed
        self._on_committed = on_committed  # wakes the loop when a background one ends
        self._running: gevent.Greenlet[None] | None = None  # exactly_once, commit_soon
        self._failed: Exception | None = None  # its error, raised on the loop

    def start(self) -> None:
        """exactly_once: make the producer transactional (fencing an older instance)."""
        if self._eos:
            try:
                offload(self._io.producer.init_transactions, _INIT_TIMEOUT_S)
            except KafkaException as exc:
                raise FatalKafkaError(f"init_transactions: {exc}") from exc

    def complete(self, record: Record, outputs: list[Output]) -> None:
        """A finished record's outputs (from its upload greenlet; no Kafka call here)."""
        if self._ledger.complete(record, outputs) and not self._eos:
            self._deliveries.add(record)

    def publish(self) -> None:
        """at_least_once: produce every output collected or failed since the last call.
        exactly_once: raise the error the background transaction ended with, if any."""
        self._raise_failed()
        if not self._eos:
            self._deliveries.produce()

    @property
    def stalled(self) -> bool:
        """True while outputs cannot be committed (for `/readyz`): a failure since the last
        commit that something still waits behind, or a transaction running too long."""
        since = self._waiting_since
        if since is not None and _now() - since >= STALLED_AFTER_S:
            return True
        return self._failed_at is not None

    def due(self) -> bool:
        """The interval exists to batch results into fewer transactions, so it only holds
        results back while other requests are still uploading and could join the batch.
        With nothing in flight, waiting batches nothing: commit on the next loop step. The
        clock restarts only when something was committed."""
        return not self._ledger.in_flight() or _now() - self._last >= self._interval_s

    def acks_due(self) -> bool:
        """at_least_once, nothing uploading: outputs produced within `ACK_WINDOW_S` still
        wait for their acknowledgement, so their records (and the loop) wait on nothing
        but a broker round trip."""
        if self._eos or self._ledger.in_flight():
            return False
        newest = max((r.produced_at for r in self._ledger.waiting(State.PUBLISHING)), default=None)
        return newest is not None and _now() - newest < ACK_WINDOW_S

    @property
    def busy(self) -> bool:
        """A background transaction is running."""
        return self._running is not None

    def commit_soon(self) -> None:
        """What the loop calls when `due`. exactly_once: start the transaction on its own
        greenlet unless one is running. at_least_once: `commit` (it never waits)."""
        self._raise_failed()
        if not self._eos:
            self.commit()
        elif self._running is None and self._ledger.ready(State.DONE):
            self._running = gevent.spawn(self._in_background)

    def _in_background(self) -> None:
        try:
            self.commit()  # the attribute: a wrapper (consumer.timeline) sees it
        except Exception as exc:  # raised on the loop, which owns the handles' fate
            self._failed = exc
        finally:
            self._running = None
            if self._on_committed is not None:
                self._on_committed()

    def _raise_failed(self) -> None:
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed

    def _settle(self, timeout_s: float | None = None) -> bool:
        """Wait for a background transaction (not from inside it); False if still running."""
        running = self._running
        if running is not None and running is not gevent.getcurrent():
            running.join(timeout_s)
            return bool(running.ready())
        return True

    def commit(self, tps: Iterable[PartitionKey] | None = None, *, final: bool = False) -> int:
        """Commit what is ready; returns the records committed. at_least_once: of `tps`
        (default all partitions); `final` (revoke, shutdown) first waits for outstanding
        acknowledgements and commits synchronously. exactly_once: one transaction takes
        the ready records of every partition, the revoked ones among them, after the
        background one (if any) has ended."""
        if self._eos:
            self._settle()
            self._raise_failed()
            committed = self._transaction(self._ledger.ready(State.DONE))
        else:
            if final:
                self._await_acks()
            self._deliveries.check()
            if self._deliveries.retries != self._retries_seen:
                self._retries_seen = self._deliveries.retries
                self._failed_at = _now()
            committed = self._commit_offsets(self._ledger.ready(State.PUBLISHED, tps), final)
            self._waiting_since = min(
                (r.produced_at for r in self._ledger.ready(State.PUBLISHING)), default=None
            )
        self._note_progress(committed)
        return committed

    def _note_progress(self, committed: int) -> None:
        now = _now()
        if committed:
            self._last = now
            self._failed_at = None
        if self._ledger.pending():
            self._busy_at = now
        elif self._failed_at is not None and now - self._busy_at >= STALLED_AFTER_S:
            self._failed_at = None  # nothing has waited behind the failure for a while

    def close(self) -> None:
        """At shutdown, after the consumer left the group: deliver what is queued (at
        least once), then close the producer, bounded (after a wedged transactional call,
        close() could wait for good)."""
        if not self._eos:
            self._io.flush(self._flush_timeout_s)
        elif not self._settle(self._txn.stuck_after_s):
            # Closing a handle under a running call is a use-after-free; the process exits.
            log.warning("a transaction is still running at close: the producer is left open")
            return
        offload(self._io.producer.close, deadline_s=_CLOSE_DEADLINE_S, stuck_error=StuckCallError)

    # at_least_once

    def _await_acks(self) -> None:
        deadline = _now() + self._flush_timeout_s
        while True:
            self._deliveries.produce()  # new outputs, and those that failed meanwhile
            left = self._io.flush(max(0.0, deadline - _now()))
            if (not left and not self._deliveries.queued) or _now() >= deadline:
                return

    def _commit_offsets(self, records: list[Record], wait: bool) -> int:
        if records:
            self._io.commit_offsets(self._ledger.commit_offsets(records), wait=wait)
            self._ledger.release(records)
            self._metrics.offsets_committed()
        return len(records)

    # exactly_once

    def _transaction(self, records: list[Record]) -> int:
        if not records:
            return 0
        offsets = self._ledger.commit_offsets(records)
        producer = self._io.producer
        unwritable: Unwritable = []
        self._waiting_since = _now()
        try:
            try:
                self._txn.call(producer.begin_transaction)
                self._produce_into_transaction(records, unwritable)
                self._txn.call(
                    self._io.send_offsets_to_transaction,
                    offsets,
                    self._txn.call_timeout_s,
                    self._txn.stuck_after_s,
                )
                self._txn.blocking(producer.commit_transaction)
            except AbortRequired as exc:
                self._failed_at = _now()
                self._abort(offsets, exc, unwritable or _refused(exc, records), records)
                return 0
        except StuckCallError as exc:
            self._failed_at = _now()
            self._replace_producer(exc)
            return 0
        finally:
            self._waiting_since = None
        self._aborts_in_a_row = 0
        self._ledger.release(records)
        self._metrics.transaction("committed")
        self._metrics.offsets_committed()
        return len(records)

    def _produce_into_transaction(self, records: list[Record], unwritable: Unwritable) -> None:
        for record in records:
            for output in record.outputs:
                report = partial(_note_unwritable, unwritable, output.topic)
                try:
                    self._io.produce(output, on_delivery=report)
                except KafkaException as exc:
                    err = kafka_error(exc)
                    if err is None:
                        raise
                    unwritable.append((output.topic, err))
                    raise AbortRequired(str(exc)) from exc

    def _abort(
        self,
        offsets: dict[PartitionKey, int],
        cause: Exception,
        unwritable: Unwritable,
        records: list[Record],
    ) -> None:
        log.warning("aborting transaction: %s", cause)
        self._txn.unabortable(self._io.producer.abort_transaction)
        self._metrics.transaction("aborted")
        self._io.serve_producer()  # the failed outputs' reports, if not served yet
        # With no broker answering, this is an outage: rewound and redone in-process once
        # the cluster is back (the transactional calls wait for it), never counted.
        if unwritable or self._io.brokers_up(_METADATA_TIMEOUT_S):
            unwritable = unwritable or self._unwritable_now(records)
            if unwritable:
                raise OutputWriteError.of(*unwritable[0])
            self._aborts_in_a_row += 1
            if self._aborts_in_a_row >= MAX_ABORTS_WITHOUT_COMMIT:
                raise FatalKafkaError(
                    f"{self._aborts_in_a_row} transactions aborted in a row, none committed, "
                    f"the brokers answering; the last: {cause}"
                )
        self._partitions.rewind(self._ledger.drop(offsets))

    def _unwritable_now(self, records: list[Record]) -> Unwritable:
        """The output topics the cluster now calls unknown or forbidden (a topic deleted
        under us fails its records only as timed out, librdkafka never says why)."""
        found: Unwritable = []
        for topic in sorted({o.topic for r in records for o in r.outputs}):
            err = self._io.topic_error(topic, _METADATA_TIMEOUT_S)
            if err is not None and OutputWriteError.unwritable(err):
                found.append((topic, err))
        return found

    def _replace_producer(self, stuck: StuckCallError) -> None:
        log.warning(
            "transactional producer wedged (%s): replacing it and rewinding to the committed "
            "offsets",
            stuck,
        )
        self._io.replace_producer(stuck)
        self._txn.unabortable(self._io.producer.init_transactions)
        self._metrics.transaction("producer_replaced")
        uncommitted = self._ledger.drop(self._ledger.partitions())
        committed = self._txn.committed(uncommitted)
        # The loop may have dispatched more of them while we waited: dropped too, since
        # the rewind refetches them.
        self._ledger.drop(uncommitted)
        # No committed offset yet: the first uncommitted record is where the group starts.
        self._partitions.rewind({tp: committed.get(tp, first) for tp, first in uncommitted.items()})


def _note_unwritable(
    unwritable: Unwritable, topic: str, err: KafkaError | None, _message: Message
) -> None:
    """A transactional output's delivery report. May run in the threadpool thread that
    commits (librdkafka serves reports while it flushes), so it only appends."""
    if err is not None and OutputWriteError.unwritable(err):
        unwritable.append((topic, err))


def _refused(abort: AbortRequired, records: list[Record]) -> Unwritable:
    """A transaction refused as a whole for an output topic we may not write (librdkafka
    fails AddPartitionsToTxn with TOPIC_AUTHORIZATION_FAILED; no delivery report says it):
    unwritable too, naming the transaction's output topics."""
    cause = abort.__cause__
    err = kafka_error(cause) if isinstance(cause, KafkaException) else None
    if err is None or not OutputWriteError.unwritable(err):
        return []
    return [(" or ".join(sorted({o.topic for r in records for o in r.outputs})), err)]


def _now() -> float:
    return time.monotonic()

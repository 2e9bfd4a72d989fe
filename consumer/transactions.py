"""Calling librdkafka's transactional API: its three error classes, and wedged calls.

Errors follow librdkafka's classes: retriable -> retry the same call until
`retry_timeout_s`; abortable -> `AbortRequired` (the checkpoint aborts and rewinds); fatal
-> `FatalKafkaError`, the process exits non-zero. A retry is only started once a broker
answers again. A call still blocked well past its own timeout raises `StuckCallError`
(librdkafka #5456): its producer is wedged, and the checkpoint replaces it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import gevent
from confluent_kafka import KafkaError, KafkaException

from consumer.errors import FatalKafkaError, StuckCallError
from consumer.kafka_io import KafkaIO
from consumer.ledger import PartitionKey
from upload_engine.offload import offload

log = logging.getLogger(__name__)

T = TypeVar("T")


class AbortRequired(Exception):  # noqa: N818  (internal signal, caught by the checkpoint)
    pass


def kafka_error(exc: KafkaException) -> KafkaError | None:
    first = exc.args[0] if exc.args else None
    return first if isinstance(first, KafkaError) else None


class TransactionalCalls:
    def __init__(
        self, io: KafkaIO, *, retry_timeout_s: float, call_timeout_s: float, stuck_after_s: float
    ) -> None:
        self._io = io
        self._retry_timeout_s = retry_timeout_s
        self.call_timeout_s = call_timeout_s
        self.stuck_after_s = stuck_after_s

    def blocking(self, fn: Callable[[float], None]) -> None:
        """A transactional call that waits on the broker: in the threadpool, retried while
        retriable, and past `stuck_after_s` a `StuckCallError` (the handle is wedged)."""
        self.call(
            lambda: offload(
                fn, self.call_timeout_s, deadline_s=self.stuck_after_s, stuck_error=StuckCallError
            )
        )

    def unabortable(self, fn: Callable[[float], None]) -> None:
        """`blocking` for abort and init: if these fail abortably, nothing is left to
        abort, and the producer is unusable."""
        try:
            self.blocking(fn)
        except AbortRequired as exc:
            name = getattr(fn, "__name__", "transactional call")
            raise FatalKafkaError(f"{name} failed: {exc}") from exc

    def committed(self, tps: Iterable[PartitionKey]) -> dict[PartitionKey, int]:
        """The group's committed offsets, asked until a broker answers (within the retry
        budget): rewinding on a guess could skip records or publish them twice. librdkafka
        flags none of its errors here retriable, so every non-fatal one is retried."""
        return self.call(self._io.committed_offsets, list(tps), self.call_timeout_s, retry_any=True)

    def call(self, fn: Callable[..., T], *args: Any, retry_any: bool = False) -> T:
        """Call a transactional API, retrying while librdkafka says it is retriable (or,
        with `retry_any`, until it says fatal)."""
        deadline = _now() + self._retry_timeout_s
        delay = 0.1
        while True:
            try:
                return fn(*args)
            except KafkaException as exc:
                err = kafka_error(exc)
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
        while _now() < deadline and not self._io.brokers_up(min(2.0, self.call_timeout_s)):
            gevent.sleep(0.5)


def _now() -> float:
    return time.monotonic()

"""RequestPublisher: an idempotent producer that returns only once the broker has
acknowledged every request it was given, or raises PublishError saying which did not.

Delivery reports are served by `poll()`. Under gevent that is `poll(0)` plus a short
cooperative sleep (a blocking poll or flush would freeze the hub); in a threaded program
it is `poll(0.05)`, which returns as soon as a report arrives. Concurrent callers may
serve each other's reports; each waits only for its own batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from kafka_config.connection import KafkaConnection
from kafka_config.topics import RequestsTopic
from producer_lib.errors import PublishError
from producer_lib.tracing import current_traceparent
from schemas import UploadRequest, encode_request, message_key, request_headers
from upload_engine.offload import offload
from upload_engine.scheduling import process_is_patched

log = logging.getLogger(__name__)

# On top of message.timeout.ms: librdkafka reports a timed-out message on its own; this
# margin only guards against a report that never comes.
_WAIT_MARGIN_S = 5.0


class _Batch:
    """Delivery reports of one publish call."""

    def __init__(self, count: int) -> None:
        self.pending = count
        self.failures: dict[str, KafkaError] = {}
        self._lock = threading.Lock()

    def on_delivery(self, request_id: str) -> Any:
        def report(err: KafkaError | None, _msg: Any) -> None:
            with self._lock:
                self.pending -= 1
                if err is not None:
                    self.failures[request_id] = err

        return report


class RequestPublisher:
    """Publishes UploadRequests to the requests topic (`enable.idempotence`, `acks=all`)."""

    def __init__(
        self,
        kafka: Mapping[str, str] | None = None,
        *,
        topic: str | None = None,
        timeout_s: float = 10.0,
        extra_config: Mapping[str, Any] | None = None,
    ) -> None:
        config: dict[str, Any] = dict(kafka or KafkaConnection().librdkafka())
        config.update(
            {
                "enable.idempotence": True,
                "acks": "all",
                "message.timeout.ms": max(1, int(timeout_s * 1000)),
                # A lone publish goes at once; concurrent ones still share a request
                # while the previous is in flight (bench.producer_bench: batch rate kept).
                "linger.ms": 0,
                "logger": logging.getLogger("producer_lib.librdkafka"),
                "error_cb": _log_kafka_error,
            }
        )
        config.update(extra_config or {})
        self._producer = Producer(config)
        self._topic = topic or RequestsTopic().requests_topic  # None: UPLOAD_STREAM_REQUESTS_TOPIC
        self._timeout_s = timeout_s

    @property
    def topic(self) -> str:
        return self._topic

    def publish(self, request: UploadRequest, *, traceparent: str | None = None) -> None:
        self.publish_batch([request], traceparent=traceparent)

    def publish_batch(
        self, requests: Sequence[UploadRequest], *, traceparent: str | None = None
    ) -> None:
        """Publish all, then wait for every delivery report; raises PublishError naming
        the requests the broker did not acknowledge (the others are published)."""
        trace = traceparent or current_traceparent()
        batch = _Batch(len(requests))
        deadline = time.monotonic() + self._timeout_s + _WAIT_MARGIN_S
        for request in requests:
            self._produce(request, trace, batch, deadline)
        self._await(batch, deadline, [r.request_id for r in requests])
        if batch.failures:
            failed = list(batch.failures)
            first = batch.failures[failed[0]]
            denied = first.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
            hint = f" (not authorized: missing Write on topic {self._topic})" if denied else ""
            raise PublishError(
                f"{len(failed)} of {len(requests)} requests not acknowledged by the broker "
                f"on {self._topic}: {first.str()}{hint}",
                request_ids=failed,
                kafka_error=first.name(),
                retryable=first.retriable() or first.code() == KafkaError._MSG_TIMED_OUT,
            )

    def _produce(
        self, request: UploadRequest, trace: str | None, batch: _Batch, deadline: float
    ) -> None:
        headers: list[tuple[str, str | bytes | None]] = list(request_headers(request, trace))
        while True:
            try:
                self._producer.produce(
                    self._topic,
                    key=message_key(request.user_id),
                    value=encode_request(request),
                    headers=headers,
                    on_delivery=batch.on_delivery(request.request_id),
                )
                return
            except BufferError:  # local queue full: serve reports to make room
                if time.monotonic() > deadline:
                    raise PublishError(
                        "the producer's local queue stayed full", request_ids=[request.request_id]
                    ) from None
                self._serve()
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                batch.on_delivery(request.request_id)(error, None)
                return

    def _await(self, batch: _Batch, deadline: float, request_ids: list[str]) -> None:
        while batch.pending > 0:
            if time.monotonic() > deadline:
                raise PublishError(
                    f"no acknowledgement from the broker within {self._timeout_s:g} s",
                    request_ids=request_ids,
                    kafka_error="_MSG_TIMED_OUT",
                )
            self._serve()

    def _serve(self) -> None:
        if process_is_patched():
            self._producer.poll(0)
            time.sleep(0.002)  # patched: gevent.sleep, the other greenlets run
        else:
            self._producer.poll(0.05)

    def close(self, timeout_s: float = 5.0) -> None:
        """Deliver what is queued (bounded), off the gevent hub."""
        offload(self._producer.flush, timeout_s)


def _log_kafka_error(error: KafkaError) -> None:
    # e.g. _ALL_BROKERS_DOWN; publish itself reports what it means for the caller.
    log.warning("kafka producer: %s", error.str())

"""ReplyRouter: one reply consumer per process, handing each result to the call awaiting it.

One background thread (a greenlet under gevent) owns the consumer; callers never touch it.
It is assigned every partition of the reply topic at the current end offset before the
first request is published, so a result, which is always written after its request, can
never be missed; and it joins no group and commits nothing, so any number of processes
can each run one. Results for requests nobody here waits for are skipped, mostly without
decoding them (the `correlation_id` header names the request).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from kafka_config.connection import KafkaConnection
from kafka_config.faults import KafkaLoginError, LoginWatch, ignorable, read_denied
from kafka_config.fetch import FetchWait
from kafka_config.topics import ResultsTopic
from producer_lib.errors import ClientClosedError, ReplyChannelError, ResultTimeout
from schemas import ResultDecodeError, UploadResult, decode_result, header
from upload_engine.offload import offload

log = logging.getLogger(__name__)

_POLL_S = 0.2
_BATCH = 500


class Waiter:
    """One caller's slot: set once its result (or the router's failure) arrives."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.result: UploadResult | None = None
        self.error: Exception | None = None
        self.event = threading.Event()  # a gevent Event when patched


class ReplyRouter:
    def __init__(
        self,
        kafka: Mapping[str, str] | None = None,
        *,
        topic: str | None = None,
        fetch_wait_max_ms: int | None = None,
        start_timeout_s: float = 10.0,
        on_result: Callable[[UploadResult], None] | None = None,
    ) -> None:
        """`on_result`, when given, sees every result read (not only awaited ones), on
        the router's thread: it must be quick and must not raise."""
        if fetch_wait_max_ms is None:  # None: the shared UPLOAD_STREAM_FETCH_WAIT_MAX_MS
            fetch_wait_max_ms = FetchWait().fetch_wait_max_ms
        config: dict[str, Any] = dict(kafka or KafkaConnection().librdkafka())
        config.update(
            {
                # Required by the client even with manual assignment; never joined, and
                # needs no ACL (kafka_config.faults).
                "group.id": f"upload-stream-reply-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": fetch_wait_max_ms,
                "logger": logging.getLogger("producer_lib.librdkafka"),
            }
        )
        self._watch = LoginWatch()
        config["error_cb"] = self._watch.error_cb
        self._config = config
        self._topic = topic or ResultsTopic().results_topic
        self._start_timeout_s = start_timeout_s
        self._lock = threading.Lock()
        self._waiters: dict[str, Waiter] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._failure: Exception | None = None
        self._on_result = on_result

    @property
    def topic(self) -> str:
        return self._topic

    def start(self) -> None:
        """Idempotent. Returns once the consumer is assigned at the end of every partition."""
        with self._lock:
            if self._stopping:
                raise ClientClosedError("the reply router is closed")
            if self._failure is not None:
                raise ReplyChannelError(f"the reply consumer failed: {self._failure}")
            if self._thread is not None:
                return
            consumer = Consumer(self._config)
            try:
                offload(self._assign_at_end, consumer)
            except BaseException:
                offload(consumer.close)
                raise
            self._thread = threading.Thread(
                target=self._run, args=(consumer,), name="upload-reply-router", daemon=True
            )
            self._thread.start()

    def _assign_at_end(self, consumer: Consumer) -> None:
        try:
            metadata = self._watch.metadata(consumer, self._topic, self._start_timeout_s)
            topic = metadata.topics.get(self._topic)
            if read_denied(topic):
                raise ReplyChannelError(f"not authorized: missing Read on topic {self._topic}")
            if topic is None or topic.error is not None or not topic.partitions:
                raise ReplyChannelError(f"reply topic {self._topic} does not exist")
            assignment = []
            for partition in sorted(topic.partitions):
                _low, high = consumer.get_watermark_offsets(
                    TopicPartition(self._topic, partition),
                    timeout=self._start_timeout_s,
                    cached=False,
                )
                assignment.append(TopicPartition(self._topic, partition, high))
            consumer.assign(assignment)
        except KafkaLoginError as exc:
            raise ReplyChannelError(str(exc)) from None
        except KafkaException as exc:
            raise ReplyChannelError(
                f"cannot read reply topic {self._topic}: {exc.args[0].str()}"
            ) from None

    def expect(self, request_id: str) -> Waiter:
        """Register interest BEFORE publishing, so even an instant result finds its waiter."""
        self.start()
        waiter = Waiter(request_id)
        with self._lock:
            self._waiters[request_id] = waiter
        return waiter

    def forget(self, waiter: Waiter) -> None:
        with self._lock:
            if self._waiters.get(waiter.request_id) is waiter:
                del self._waiters[waiter.request_id]

    def wait(self, waiter: Waiter, timeout: float) -> UploadResult:
        try:
            waiter.event.wait(timeout)
        finally:
            self.forget(waiter)
        if waiter.result is not None:
            return waiter.result
        if waiter.error is not None:
            raise waiter.error
        raise ResultTimeout(waiter.request_id, timeout)

    def close(self, timeout_s: float = 5.0) -> None:
        with self._lock:
            self._stopping = True
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        self._fail_all(ClientClosedError("the reply router was closed"))

    def _run(self, consumer: Consumer) -> None:
        try:
            while not self._stopping:
                # poll(t) returns at the first record; consume(n, t) would wait out all of
                # t unless n records came (bench/e2e_bench.py's timeline showed it).
                first = offload(consumer.poll, _POLL_S)
                if first is None:
                    continue
                for message in [first, *consumer.consume(_BATCH, 0)]:
                    self._dispatch(message)
        except Exception as exc:  # a dead router must not leave callers hanging
            log.error("reply consumer on %s failed: %s", self._topic, type(exc).__name__)
            with self._lock:
                self._failure = exc
            self._fail_all(ReplyChannelError(f"the reply consumer failed: {exc}"))
        finally:
            offload(consumer.close)

    def _dispatch(self, message: Any) -> None:
        error = message.error()
        if error is not None:
            if ignorable(error):
                return
            if error.fatal():
                raise KafkaException(error)
            log.warning("reply consumer on %s: %s", self._topic, error.str())
            return
        correlation_id = header(message.headers(), "correlation_id")
        with self._lock:
            if (
                self._on_result is None
                and correlation_id is not None
                and correlation_id not in self._waiters
            ):
                return
        try:
            result = decode_result(message.value())
        except ResultDecodeError as exc:
            log.warning(
                "unreadable result at %s[%d]@%d: %s",
                message.topic(),
                message.partition(),
                message.offset(),
                exc,
            )
            return
        if self._on_result is not None:
            self._on_result(result)
        with self._lock:
            waiter = self._waiters.get(result.request_id)
            if waiter is not None and waiter.result is None:
                waiter.result = result
                waiter.event.set()

    def _fail_all(self, error: Exception) -> None:
        with self._lock:
            waiters = list(self._waiters.values())
        for waiter in waiters:
            waiter.error = error
            waiter.event.set()

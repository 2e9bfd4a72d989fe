"""Reading UploadResult events downstream (KYC services) and for ops (`upload-stream results`).

`ResultReader` is a consumer-group reader: `read_committed`, and an offset is committed
only after the handler (or the loop body) returned, so a crash re-delivers instead of
losing a result. An unreadable event is reported to `on_error` (or logged) and committed
too: one bad event must not block the partition behind it.

`tail_results` reads without a group (ops: nothing is committed).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from kafka_config.connection import KafkaConnection
from kafka_config.faults import KafkaLoginError, LoginWatch, ignorable, read_denied
from kafka_config.topics import ResultsTopic
from producer_lib.errors import ReplyChannelError
from schemas import ResultDecodeError, UploadResult, decode_result
from upload_engine.offload import offload

log = logging.getLogger(__name__)

_POLL_S = 0.5


@dataclass(frozen=True)
class UnreadableResult:
    """Where an event that is not a valid UploadResult sits, and why (no payload)."""

    topic: str
    partition: int
    offset: int
    reason: str


OnError = Callable[[UnreadableResult], None]


def _log_unreadable(bad: UnreadableResult) -> None:
    log.warning(
        "skipping unreadable result at %s[%d]@%d: %s",
        bad.topic,
        bad.partition,
        bad.offset,
        bad.reason,
    )


def _base_config(kafka: Mapping[str, str] | None) -> dict[str, Any]:
    config: dict[str, Any] = dict(kafka or KafkaConnection().librdkafka())
    config.update(
        {
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "logger": logging.getLogger("producer_lib.librdkafka"),
        }
    )
    return config


def _decode(message: Any, on_error: OnError) -> UploadResult | None:
    try:
        return decode_result(message.value())
    except ResultDecodeError as exc:
        on_error(UnreadableResult(message.topic(), message.partition(), message.offset(), str(exc)))
        return None


class ResultReader:
    """Iterate (`for result in reader:`) or `run(handler)` over results as a consumer group."""

    def __init__(
        self,
        kafka: Mapping[str, str] | None = None,
        *,
        group_id: str,
        topic: str | None = None,
        from_beginning: bool = False,
        on_error: OnError | None = None,
        extra_config: Mapping[str, Any] | None = None,
    ) -> None:
        config = _base_config(kafka)
        config.update(
            {
                "group.id": group_id,
                "auto.offset.reset": "earliest" if from_beginning else "latest",
            }
        )
        config.update(extra_config or {})
        self._consumer = Consumer(config)
        self._consumer.subscribe([topic or ResultsTopic().results_topic])
        self._on_error = on_error or _log_unreadable
        self._stop = threading.Event()
        self._closed = False

    def __iter__(self) -> Iterator[UploadResult]:
        return self.results()

    def results(self, *, idle_timeout_s: float | None = None) -> Iterator[UploadResult]:
        """Yields results until `stop()` (or `idle_timeout_s` without any event). The offset
        of each is committed when the loop body returns for it; a body that raises leaves
        it uncommitted, to be read again."""
        idle_since = time.monotonic()
        while not self._stop.is_set():
            message = offload(self._consumer.poll, _POLL_S)
            if message is None:
                if idle_timeout_s is not None and time.monotonic() - idle_since > idle_timeout_s:
                    return
                continue
            idle_since = time.monotonic()
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise ReplyChannelError(f"result reader failed: {error.str()}")
                log.warning("result reader: %s", error.str())
                continue
            result = _decode(message, self._on_error)
            if result is not None:
                yield result
            self._commit(message)

    def run(
        self,
        handler: Callable[[UploadResult], None],
        *,
        max_results: int | None = None,
        idle_timeout_s: float | None = None,
    ) -> int:
        """Calls `handler` for each result; returns how many were handled."""
        handled = 0
        for result in self.results(idle_timeout_s=idle_timeout_s):
            handler(result)
            handled += 1
            if max_results is not None and handled >= max_results:
                self.stop()
        return handled

    def _commit(self, message: Any) -> None:
        try:
            offload(self._commit_sync, message)
        except KafkaException as exc:
            # e.g. the partition was revoked meanwhile: the next owner reads it again.
            log.warning("result reader: commit failed: %s", exc.args[0].str())

    def _commit_sync(self, message: Any) -> None:
        self._consumer.commit(message=message, asynchronous=False)

    def stop(self) -> None:
        """Ends iteration after the current event (safe from another thread/greenlet)."""
        self._stop.set()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._stop.set()
            offload(self._consumer.close)

    def __enter__(self) -> ResultReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def tail_results(
    kafka: Mapping[str, str] | None = None,
    *,
    topic: str | None = None,
    from_beginning: bool = False,
    last: int = 10,
    follow: bool = False,
    on_error: OnError | None = None,
    stop: threading.Event | None = None,
    timeout_s: float = 10.0,
) -> Iterator[UploadResult]:
    """Results of every partition without a group: from the start, or the `last` few of
    each partition; without `follow` it ends once it has caught up with the end as it was
    when it started."""
    topic = topic or ResultsTopic().results_topic
    config = _base_config(kafka)
    # Required by the client, never joined; no ACL needed on it (kafka_config.faults).
    config["group.id"] = f"upload-stream-tail-{uuid.uuid4().hex}"
    watch = LoginWatch()
    config["error_cb"] = watch.error_cb
    consumer = Consumer(config)
    report = on_error or _log_unreadable
    stop = stop or threading.Event()
    try:
        ends = offload(_assign, consumer, topic, from_beginning, last, timeout_s, watch)
        while not stop.is_set():
            if not follow and _caught_up(consumer, ends):
                return
            message = offload(consumer.poll, _POLL_S)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if not ignorable(error):
                    log.warning("results: %s", error.str())
                continue
            result = _decode(message, report)
            if result is not None:
                yield result
    finally:
        offload(consumer.close)


def _assign(  # noqa: PLR0917
    consumer: Consumer,
    topic: str,
    from_beginning: bool,
    last: int,
    timeout_s: float,
    watch: LoginWatch,
) -> list[tuple[TopicPartition, int, int]]:
    try:
        metadata = watch.metadata(consumer, topic, timeout_s)
        found = metadata.topics.get(topic)
        if read_denied(found):
            raise ReplyChannelError(f"not authorized: missing Read on topic {topic}")
        if found is None or found.error is not None or not found.partitions:
            raise ReplyChannelError(f"topic {topic} does not exist")
        ends: list[tuple[TopicPartition, int, int]] = []
        assignment = []
        for partition in sorted(found.partitions):
            tp = TopicPartition(topic, partition)
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s, cached=False)
            start = low if from_beginning else max(low, high - last)
            assignment.append(TopicPartition(topic, partition, start))
            ends.append((tp, start, high))
        consumer.assign(assignment)
        return ends
    except KafkaLoginError as exc:
        raise ReplyChannelError(str(exc)) from None
    except KafkaException as exc:
        raise ReplyChannelError(f"cannot read {topic}: {exc.args[0].str()}") from None


def _caught_up(consumer: Consumer, ends: list[tuple[TopicPartition, int, int]]) -> bool:
    # position() moves past transaction markers too; before the first fetch it is
    # negative (unknown), which means "still at the start".
    positions = consumer.position([tp for tp, _start, _end in ends])
    for (_tp, start, end), now in zip(ends, positions, strict=True):
        if max(now.offset, start) < end:
            return False
    return True

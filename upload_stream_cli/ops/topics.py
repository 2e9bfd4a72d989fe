"""Read a topic from its beginning to the high watermark taken at the start, then stop.

`assign()` with explicit offsets, auto-commit off and a throw-away group id that never
joins or commits: inspecting the DLQ or planning a replay must not move anyone's offsets.
The client insists on a `group.id`; its coordinator lookup failing for want of a group
ACL is ignored (`kafka_config.faults`), so reading needs Read on the topic only.
`read_committed`, because the consumer writes results in transactions and an aborted
result must not count as an outcome.

The calls block (librdkafka); the ops commands run nothing else on the gevent hub.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from kafka_config.faults import KafkaLoginError, LoginWatch, ignorable
from schemas import Headers
from upload_stream_cli.errors import UsageError
from upload_stream_cli.ops.errors import OpsError

_BATCH = 500
_POLL_S = 0.5
# librdkafka logs every failed connection attempt to stderr, many per second; an operator
# gets the reason once, from the error that ends the command, instead.
QUIET = {"log_level": 0}


def kafka_reason(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    return error.str() if isinstance(error, KafkaError) else str(exc)


@dataclass(frozen=True)
class TopicRecord:
    """One Kafka record, detached from librdkafka so the logic can be tested without it."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    headers: Headers = field(default_factory=list)
    timestamp_ms: int | None = None


def message_headers(message: Message) -> Headers:
    """A consumed message's headers as (name, bytes) pairs, the form `schemas` reads."""
    raw = message.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return [(k, v.encode("utf-8") if isinstance(v, str) else v) for k, v in pairs]


def _record(message: Message, partition: int, offset: int) -> TopicRecord:
    kind, stamp = message.timestamp()
    return TopicRecord(
        topic=message.topic() or "",
        partition=partition,
        offset=offset,
        value=message.value(),
        key=message.key(),
        headers=message_headers(message),
        timestamp_ms=stamp if kind != TIMESTAMP_NOT_AVAILABLE else None,
    )


def _ends(
    consumer: Consumer, topic: str, timeout: float, watch: LoginWatch
) -> dict[int, tuple[int, int]]:
    """partition -> (low, high) watermarks, now."""
    try:
        meta = watch.metadata(consumer, topic, timeout)
    except KafkaLoginError as exc:
        raise OpsError(str(exc)) from None
    except KafkaException as exc:
        raise OpsError(f"cannot reach Kafka: {kafka_reason(exc)}") from None
    found = meta.topics.get(topic)
    if found is None or found.error is not None:
        if found is not None and found.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
            raise OpsError(f"not authorized: missing Read on topic {topic}")
        if found is not None and found.error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise OpsError(f"topic {topic!r}: {found.error.str()}")
        raise UsageError(f"topic {topic!r} does not exist (check UPLOAD_STREAM_*_TOPIC)")
    ends = {}
    for partition in sorted(found.partitions):
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=timeout, cached=False
        )
        ends[partition] = (low, high)
    return ends


def read_to_end(
    connection: Mapping[str, str], topic: str, *, timeout_s: float = 60.0
) -> Iterator[TopicRecord]:
    """Every record of `topic` up to the high watermarks seen at the start.

    Raises `OpsError` when the end is not reached within `timeout_s`, rather than
    returning a silently partial view (a replay planned on it would be wrong).
    """
    watch = LoginWatch()
    consumer = Consumer(
        {
            **connection,
            **QUIET,
            "error_cb": watch.error_cb,
            "group.id": f"upload-stream-ops-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
            "fetch.wait.max.ms": 100,
        }
    )
    try:
        ends = _ends(consumer, topic, min(timeout_s, 15.0), watch)
        pending = {p: high for p, (low, high) in ends.items() if high > low}
        if not pending:
            return
        consumer.assign([TopicPartition(topic, p, ends[p][0]) for p in pending])
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise OpsError(f"reading {topic!r} did not reach its end in {timeout_s:.0f} s")
            for message in consumer.consume(_BATCH, timeout=_POLL_S):
                yield from _handle(message, pending)
    finally:
        consumer.close()


def _handle(message: Message, pending: dict[int, int]) -> Iterator[TopicRecord]:
    partition, offset, error = message.partition(), message.offset(), message.error()
    if error is not None:
        if error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
            raise OpsError(f"not authorized: missing Read on topic {message.topic()}")
        if error.code() == KafkaError._PARTITION_EOF:
            # With read_committed the end may sit below the high watermark (an open
            # transaction, or the last offset is a commit marker): EOF is the end.
            pending.pop(partition if partition is not None else -1, None)
            return
        if ignorable(error):
            return
        if error.fatal() or not error.retriable():
            raise OpsError(f"reading partition {partition}: {error.str()}")
        return
    if partition is None or offset is None or partition not in pending:
        return
    if offset < pending[partition]:
        yield _record(message, partition, offset)
    if offset + 1 >= pending[partition]:
        pending.pop(partition, None)

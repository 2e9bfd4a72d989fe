"""Helpers for the consumer's integration tests: stage blobs, publish requests, read
outputs read_committed, and run the consumer in-process (a greenlet) or as a subprocess.

`ConsumerRig` (the `consumer_rig` fixture in tests/conftest.py) bundles the usual set-up:
fresh topics, a destination bucket, a staging directory, the consumer's environment, and
the consumers and readers a test starts on them, all cleaned up after the test.

Every Kafka call that can block runs in gevent's threadpool, so an in-process consumer
greenlet keeps running while the test waits.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

import gevent
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from gevent.event import Event

from upload_engine.offload import offload

if TYPE_CHECKING:
    from upload_engine import UploadEngine

REPO = Path(__file__).resolve().parents[2]
HeaderList = list[tuple[str, bytes | None]]
ProduceHeaders = list[tuple[str, str | bytes | None]]


def wait_for(condition: Callable[[], bool], timeout: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        gevent.sleep(step)


def stage(
    directory: Path, data: bytes, name: str = "doc.pdf", content_type: str = "application/pdf"
) -> dict[str, Any]:
    path = directory / f"{uuid.uuid4().hex}-{name}"
    path.write_bytes(data)
    return {
        "uri": f"file://{path}",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "content_type": content_type,
        "filename": name,
    }


def request(request_id: str, user_id: str, files: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "request_id": request_id,
        "user_id": user_id,
        "file_category": "kyc_documents",
        "files": files,
        "created_at": "2026-11-28T12:00:00Z",
        **extra,
    }


def encode(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


def publish(
    bootstrap: str,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes | None, HeaderList | None]],
    **config: Any,
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **config})
    for key, value, headers in records:
        producer.produce(topic, key=key, value=value, headers=ProduceHeaders(headers or []))
    remaining = offload(producer.flush, 30.0)
    assert remaining == 0


@dataclass
class Read:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: HeaderList

    def json(self) -> Any:
        return json.loads(self.value or b"null")

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k == name]
        return found[-1].decode() if found and found[-1] is not None else None


@dataclass
class Reader:
    """A read_committed reader of some topics from the beginning, polled in the threadpool.

    It assigns itself every partition instead of joining a group: a group member can be
    rebalanced (a missed session on a loaded machine) and, committing nothing, would read
    its partitions again from the start, which looks exactly like duplicated results."""

    bootstrap: str
    topics: list[str]
    records: list[Read] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"reader-{uuid.uuid4().hex[:8]}",
                "isolation.level": "read_committed",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 50,
            }
        )
        partitions = []
        for topic in self.topics:
            metadata = offload(self._consumer.list_topics, topic, 10).topics[topic]
            if metadata.error is not None or not metadata.partitions:
                raise AssertionError(f"reader: topic {topic} has no partitions: {metadata.error}")
            partitions += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions]
        self._consumer.assign(partitions)
        self._closed = False

    def poll(self, seconds: float = 0.2) -> None:
        for message in offload(self._consumer.consume, 500, seconds):
            if message.error():
                continue
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            assert topic is not None and partition is not None and offset is not None
            headers = message.headers() or []
            assert isinstance(headers, list)
            pairs = [(k, v.encode() if isinstance(v, str) else v) for k, v in headers]
            self.records.append(
                Read(topic, partition, offset, message.key(), message.value(), pairs)
            )

    def wait(
        self, condition: Callable[[list[Read]], bool], timeout: float, what: str
    ) -> list[Read]:
        deadline = time.monotonic() + timeout
        while not condition(self.records):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what}; "
                    f"have {len(self.records)} records"
                )
            self.poll()
        return self.records

    def of(self, topic: str) -> list[Read]:
        return [r for r in self.records if r.topic == topic]

    def close(self) -> None:
        """Idempotent: a test may close early, and its `ConsumerRig` closes it again."""
        if not self._closed:
            self._closed = True
            offload(self._consumer.close)


def consumer_env(
    *,
    bootstrap: str,
    topics: dict[str, str],
    group_id: str,
    bucket: str,
    staging: Path,
    **extra: str,
) -> dict[str, str]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "UPLOAD_STREAM_GROUP_ID": group_id,
        "UPLOAD_STREAM_REQUESTS_TOPIC": topics["requests"],
        "UPLOAD_STREAM_RESULTS_TOPIC": topics["results"],
        "UPLOAD_STREAM_DLQ_TOPIC": topics["dlq"],
        "UPLOAD_STREAM_DEFAULT_BUCKET": bucket,
        "UPLOAD_STREAM_STAGING_ALLOWLIST": f"file://{staging}/",
        "UPLOAD_STREAM_METRICS_PORT": "0",
        "UPLOAD_STREAM_FETCH_WAIT_MAX_MS": "50",
        "UPLOAD_STREAM_CHECKPOINT_INTERVAL_S": "0.2",
        "UPLOAD_STREAM_TRANSACTION_TIMEOUT_MS": "10000",
        "UPLOAD_STREAM_SESSION_TIMEOUT_MS": "6000",
        "UPLOAD_STREAM_STATS_INTERVAL_MS": "0",
        "UPLOAD_STREAM_LOG_FORMAT": "json",
    }
    env.update(extra)
    return env


class ConsumerProcess:
    """`python -m upload_stream_cli.entry consume` as a subprocess; logs go to a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "upload_stream_cli.entry", "consume"],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log_path.read_text().splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
        return lines

    def logged(self, text: str) -> bool:
        return any(text in line.get("msg", "") for line in self.log_lines())

    def wait_assigned(self, timeout: float = 20.0) -> None:
        wait_for(lambda: self.logged("assigned"), timeout, "partition assignment")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            gevent.sleep(0.05)
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait(timeout=10)
        self._log.close()
        return code


class InProcessConsumer:
    """`consumer.app.run` in a greenlet of the test process, with an optional engine."""

    def __init__(self, env: dict[str, str], engine: Any = None) -> None:
        from consumer.metrics import Metrics
        from consumer.settings import ConsumerSettings
        from kafka_config.connection import KafkaConnection
        from upload_engine.settings import EngineSettings

        saved = dict(os.environ)
        os.environ.update(env)
        try:
            self.settings = ConsumerSettings()
            self.engine_settings = EngineSettings()
            self.connection = KafkaConnection()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.metrics = Metrics()
        self.stop_event = Event()
        self._engine = engine
        self.greenlet = gevent.spawn(self._run)

    def _run(self) -> int:
        from consumer import app

        return app.run(
            self.settings,
            self.engine_settings,
            self.connection,
            stop=self.stop_event,
            engine=self._engine,
            metrics=self.metrics,
        )

    def stop(self, timeout: float = 40.0) -> int:
        self.stop_event.set()
        code: int = self.greenlet.get(timeout=timeout)
        return code


R = TypeVar("R", bound=Reader)


class ConsumerRig:
    """One consumer deployment under test: its topics (by role), destination bucket, staging
    directory and group, and every consumer and reader started on them.

    `env(**overrides)` is `consumer_env` for this rig plus `stack.env()` and
    `UPLOAD_STREAM_SSE=none` (as every consumer test had it); `start` runs a
    `ConsumerProcess`, `start_in_process` an `InProcessConsumer` with the real engine on the
    rig's S3 client, `reader(*roles)` a `Reader`. `close()` (the fixture's, or the owner's)
    kills what still runs and closes the readers: a test stops its consumers itself where
    it asserts on how they stop.
    """

    def __init__(
        self,
        stack: Any,
        *,
        topics: dict[str, str],
        bucket: str,
        staging: Path,
        group_id: str,
        s3: Any,
        logs: Path,
    ) -> None:
        self.stack = stack
        self.bootstrap: str = stack.bootstrap_servers
        self.topics = topics
        self.bucket = bucket
        self.staging = staging
        self.group_id = group_id
        self.s3 = s3
        self._logs = logs
        self._names: Counter[str] = Counter()
        self.processes: list[ConsumerProcess] = []
        self.in_process: list[InProcessConsumer] = []
        self.readers: list[Reader] = []

    def env(self, **overrides: str) -> dict[str, str]:
        return consumer_env(
            bootstrap=self.bootstrap,
            topics=self.topics,
            group_id=self.group_id,
            bucket=self.bucket,
            staging=self.staging,
            **{**self.stack.env(), "UPLOAD_STREAM_SSE": "none", **overrides},
        )

    def start(self, env: dict[str, str] | None = None, name: str = "consumer") -> ConsumerProcess:
        """A consumer subprocess logging to `<name>.log` (`<name>-<n>.log` when restarted)."""
        n = self._names[name]
        self._names[name] += 1
        log = self._logs / (f"{name}.log" if n == 0 else f"{name}-{n}.log")
        process = ConsumerProcess(self.env() if env is None else env, log)
        self.processes.append(process)
        return process

    def start_in_process(
        self,
        env: dict[str, str] | None = None,
        wrap: Callable[[UploadEngine], Any] | None = None,
    ) -> InProcessConsumer:
        """A consumer greenlet whose engine is the real one on the rig's S3 client, passed
        through `wrap` when given."""
        from upload_engine import UploadEngine

        consumer = InProcessConsumer(self.env() if env is None else env)
        engine = UploadEngine(consumer.engine_settings, s3_client=self.s3)
        consumer._engine = engine if wrap is None else wrap(engine)
        self.in_process.append(consumer)
        return consumer

    @overload
    def reader(self, *roles: str) -> Reader: ...
    @overload
    def reader(self, *roles: str, cls: type[R]) -> R: ...
    def reader(self, *roles: str, cls: type[Reader] = Reader) -> Reader:
        """A read_committed reader (or one of class `cls`) of the topics with these roles."""
        reader = cls(self.bootstrap, [self.topics[role] for role in roles])
        self.readers.append(reader)
        return reader

    def publish(
        self, records: Iterable[tuple[bytes | None, bytes | None, HeaderList | None]]
    ) -> None:
        publish(self.bootstrap, self.topics["requests"], records)

    def close(self) -> None:
        for consumer in self.in_process:
            consumer.stop_event.set()
            consumer.greenlet.join(timeout=40.0)
            if not consumer.greenlet.dead:
                consumer.greenlet.kill(block=True, timeout=10.0)
        for process in self.processes:
            if process.proc.poll() is None:
                process.kill()
            process.stop()  # only closes the log now
        for reader in self.readers:
            reader.close()


class RigFactory(Protocol):
    """The `consumer_rig` fixture: `consumer_rig(*extra_roles, partitions=3, bucket=None)`."""

    def __call__(
        self, *extra_roles: str, partitions: int = 3, bucket: str | None = None
    ) -> ConsumerRig: ...

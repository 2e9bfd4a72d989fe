"""The local stack is real: records go through a Kafka broker, transactions commit and abort,
objects go over HTTP to S3, `upload-stream dev` starts and stops cleanly, and a broker restart
keeps its data."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from schemas import BlobRef, UploadRequest, decode_request, encode_request, message_key
from schemas.codec import request_headers
from tests.conftest import unavailable
from upload_stream_cli.devstack.kafka import KafkaBroker, new_cluster_id
from upload_stream_cli.devstack.ports import port_open
from upload_stream_cli.devstack.stack import (
    DEFAULT_BUCKETS,
    DEFAULT_PARTITIONS,
    DEFAULT_TOPICS,
    REQUESTS_TOPIC,
    Stack,
)

ROOT = Path(__file__).resolve().parents[3]
EXPORT_KAFKA = re.compile(r"export KAFKA_BOOTSTRAP_SERVERS=127\.0\.0\.1:(\d+)")
EXPORT_S3 = re.compile(r"export AWS_ENDPOINT_URL=http://127\.0\.0\.1:(\d+)")

TopicFactory = Callable[..., dict[str, str]]


def read_partition(
    config: dict[str, str],
    topic: str,
    *,
    until: Callable[[list[Message]], bool],
    isolation: str = "read_committed",
    timeout: float = 20.0,
) -> list[Message]:
    """Read partition 0 of `topic` from the beginning (assigned: no group join) until
    `until(messages)` holds; fail after `timeout` seconds."""
    consumer = Consumer(
        {
            **config,
            "group.id": "unused-assign-only",
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "fetch.wait.max.ms": 50,
        }
    )
    messages: list[Message] = []
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout
        while not until(messages):
            assert time.monotonic() < deadline, f"read only {[m.value() for m in messages]}"
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            messages.append(msg)
        return messages
    finally:
        consumer.close()


def produce(config: dict[str, Any], topic: str, value: bytes, **kwargs: Any) -> Message:
    """Produce one record and return its delivery report, failing on a delivery error."""
    reports: list[tuple[KafkaError | None, Message]] = []
    producer = Producer(config)
    producer.produce(topic, value, on_delivery=lambda e, m: reports.append((e, m)), **kwargs)
    assert producer.flush(15) == 0, "not delivered within 15 s"
    error, msg = reports[0]
    assert error is None, error
    return msg


def test_default_topics_and_buckets_exist(stack: Stack, s3: Any) -> None:
    metadata = AdminClient({"bootstrap.servers": stack.bootstrap_servers}).list_topics(timeout=10)
    for topic in DEFAULT_TOPICS:
        assert len(metadata.topics[topic].partitions) == DEFAULT_PARTITIONS
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert set(DEFAULT_BUCKETS) <= buckets


def test_upload_request_goes_through_the_broker(
    kafka_config: dict[str, str], kafka_topics: TopicFactory
) -> None:
    topic = kafka_topics("requests", partitions=1)["requests"]
    request = UploadRequest.model_validate(
        {
            "schema_version": 1,
            "request_id": "req-stack-1",
            "user_id": 123,
            "file_category": "kyc_documents",
            "files": {
                "passport": BlobRef(
                    uri="s3://upload-stream-staging/incoming/passport.pdf",
                    size=5,
                    sha256="2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
                    content_type="application/pdf",
                    filename="passport.pdf",
                )
            },
            "created_at": "2026-01-02T03:04:05Z",
        }
    )
    sent = produce(
        kafka_config,
        topic,
        encode_request(request),
        key=message_key(request.user_id),
        headers=request_headers(request),
    )
    assert sent.offset() == 0

    [received] = read_partition(kafka_config, topic, until=lambda got: len(got) == 1)
    assert received.key() == b"123"
    assert dict(received.headers() or [])["event_type"] == b"upload.request.v1"
    assert decode_request(received.value()) == request
    assert json.loads(received.value() or b"")["files"]["passport"]["size"] == 5


def test_s3_objects_go_over_http(s3: Any, make_bucket: Callable[..., str]) -> None:
    bucket = make_bucket("stack")
    s3.put_object(Bucket=bucket, Key="kyc/user_1/passport.pdf", Body=b"%PDF-1.7 test")
    got = s3.get_object(Bucket=bucket, Key="kyc/user_1/passport.pdf")
    assert got["Body"].read() == b"%PDF-1.7 test"
    assert got["ContentLength"] == 13
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["kyc/user_1/passport.pdf"]


def test_local_s3_keeps_connections_alive(stack: Stack) -> None:
    """moto's own server closes every connection; ours (gevent.pywsgi) must not."""
    if stack.s3_server is None:
        unavailable(f"S3 comes from {stack.s3_source}, not the local moto")
    conn = http.client.HTTPConnection("127.0.0.1", stack.s3_server.port, timeout=10)
    try:
        sockets = []
        for _ in range(3):
            conn.request("GET", "/moto-api/")
            response = conn.getresponse()
            response.read()
            assert response.getheader("Connection", "").lower() != "close"
            assert conn.sock is not None
            sockets.append(conn.sock.getsockname())
        assert len(set(sockets)) == 1, sockets
    finally:
        conn.close()


def test_transactions_commit_offsets_and_hide_aborted_records(
    kafka_config: dict[str, str], kafka_topics: TopicFactory, group_id: str
) -> None:
    topics = kafka_topics("in", "out", partitions=1)
    source, sink = topics["in"], topics["out"]
    produce(kafka_config, source, b'{"n": 1}')

    consumer = Consumer(
        {
            **kafka_config,
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    producer = Producer({**kafka_config, "transactional.id": f"{group_id}-txn"})
    try:
        consumer.subscribe([source])
        deadline = time.monotonic() + 30  # includes the group join (~3 s)
        msg = None
        while msg is None:
            assert time.monotonic() < deadline, "no record consumed within 30 s"
            msg = consumer.poll(0.5)
        assert msg.error() is None, msg.error()
        partition, offset = msg.partition(), msg.offset()
        assert partition is not None and offset is not None
        [position] = consumer.position([TopicPartition(source, partition)])
        assert position.offset == offset + 1

        producer.init_transactions(30)
        producer.begin_transaction()
        producer.produce(sink, b"committed")
        producer.send_offsets_to_transaction([position], consumer.consumer_group_metadata(), 30)
        producer.commit_transaction(30)

        producer.begin_transaction()
        producer.produce(sink, b"aborted")
        assert producer.flush(15) == 0  # the record is on the broker before the abort
        producer.abort_transaction(30)

        producer.begin_transaction()
        producer.produce(sink, b"after-abort")
        producer.commit_transaction(30)

        [committed] = consumer.committed([TopicPartition(source, partition)], timeout=10)
        assert committed.offset == offset + 1
    finally:
        consumer.close()

    def reached_last(got: list[Message]) -> bool:
        return bool(got) and got[-1].value() == b"after-abort"

    visible = read_partition(kafka_config, sink, until=reached_last)
    assert [m.value() for m in visible] == [b"committed", b"after-abort"]
    # The aborted record was really written: only isolation hides it.
    everything = read_partition(
        kafka_config, sink, until=reached_last, isolation="read_uncommitted"
    )
    assert [m.value() for m in everything] == [b"committed", b"aborted", b"after-abort"]


def _dev_env(tmp_path: Path) -> dict[str, str]:
    """The caller's environment, minus anything that would make `dev` start nothing, and
    with TMPDIR in `tmp_path` so every work dir (and so every child's command line) of this
    `dev` mentions `tmp_path`."""
    drop = {"KAFKA_BOOTSTRAP_SERVERS", "AWS_ENDPOINT_URL"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["UPLOAD_STREAM_DOCKER"] = "0"  # exercise the local launchers even where Docker runs
    env["TMPDIR"] = str(tmp_path)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _processes_mentioning(text: str) -> list[str]:
    """Command lines (of live processes, zombies excluded) that contain `text`."""
    found = []
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            args = (
                (proc_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            )
            state = (proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # exited meanwhile
        if text in args and state != "Z":
            found.append(f"{proc_dir.name}: {args}")
    return found


def _start_dev(tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    stderr = tmp_path / "dev.stderr"
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "upload_stream_cli.entry", "dev"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=_dev_env(tmp_path),
            cwd=tmp_path,
        )
    return proc, stderr


def _assert_nothing_left(tmp_path: Path, log: str) -> None:
    assert not _processes_mentioning(str(tmp_path)), log
    assert not list(tmp_path.glob("upload-stream-*")), "work dirs not removed"


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_dev_prints_exports_serves_and_stops_cleanly(
    stack: Stack, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    # `stack` only for its skip/fail policy: without java or mvn `dev` cannot work either.
    proc, stderr = _start_dev(tmp_path)
    try:
        assert proc.stdout is not None
        with gevent.Timeout(60, AssertionError("no export lines within 60 s")):
            first, second = proc.stdout.readline(), proc.stdout.readline()
        kafka_match = EXPORT_KAFKA.fullmatch(first.rstrip("\n"))
        s3_match = EXPORT_S3.fullmatch(second.rstrip("\n"))
        assert kafka_match and s3_match, (first, second, stderr.read_text())
        kafka_port = int(kafka_match[1])

        produce({"bootstrap.servers": f"127.0.0.1:{kafka_port}"}, REQUESTS_TOPIC, b"{}")
        conn = http.client.HTTPConnection("127.0.0.1", int(s3_match[1]), timeout=10)
        conn.request("GET", "/moto-api/")
        assert conn.getresponse().status == 200
        conn.close()
        assert len(_processes_mentioning(str(tmp_path))) == 2  # the JVM and moto

        proc.send_signal(stop_signal)
        assert proc.wait(timeout=45) == 0, stderr.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = stderr.read_text()
    assert "ready" in log and "stopping" in log, log
    _assert_nothing_left(tmp_path, log)
    assert not port_open(kafka_port)


def test_dev_stops_cleanly_when_interrupted_during_start_up(stack: Stack, tmp_path: Path) -> None:
    proc, stderr = _start_dev(tmp_path)
    try:
        deadline = time.monotonic() + 30
        while "starting" not in stderr.read_text():
            assert time.monotonic() < deadline and proc.poll() is None, stderr.read_text()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=45) == 0, stderr.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = stderr.read_text()
    assert "interrupted during start-up" in log, log
    _assert_nothing_left(tmp_path, log)


def test_broker_restart_keeps_data(
    local_broker: KafkaBroker, kafka_config: dict[str, str], kafka_topics: TopicFactory
) -> None:
    topic = kafka_topics("durable", partitions=1)["durable"]
    produce({**kafka_config, "acks": "all"}, topic, b"before-restart")

    local_broker.stop()
    assert not local_broker.running
    assert not port_open(local_broker.port)
    local_broker.start()

    assert local_broker.bootstrap_servers == kafka_config["bootstrap.servers"]
    [msg] = read_partition(kafka_config, topic, until=lambda got: len(got) == 1)
    assert msg.value() == b"before-restart"
    produce(kafka_config, topic, b"after-restart")


def test_paused_broker_does_not_answer_until_resumed(
    local_broker: KafkaBroker, kafka_config: dict[str, str]
) -> None:
    local_broker.pause()
    try:
        with pytest.raises(KafkaException):
            AdminClient(dict(kafka_config)).list_topics(timeout=2)
    finally:
        local_broker.resume()
    assert AdminClient(dict(kafka_config)).list_topics(timeout=10).brokers


def test_cluster_ids_never_look_like_options() -> None:
    """StorageTool's parser reads an id starting with "-" as an option (seen: 1 run in 64)."""
    ids = [new_cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert len(set(ids)) == len(ids)

"""at_least_once mode across a crash, and the observability endpoints."""

from __future__ import annotations

import hashlib
import urllib.request
import uuid
from collections import Counter
from typing import Any

from tests.integration.consumer_helpers import (
    RigFactory,
    encode,
    request,
    stage,
    wait_for,
)
from upload_stream_cli.devstack.ports import free_port

COUNT = 100


def test_at_least_once_kill_9_loses_nothing(consumer_rig: RigFactory, s3: Any) -> None:
    rig = consumer_rig()
    env = rig.env(
        UPLOAD_STREAM_PROCESSING_GUARANTEE="at_least_once",
        UPLOAD_STREAM_MAX_IN_FLIGHT_REQUESTS="4",
    )
    messages = [
        (
            b"u",
            encode(
                request(
                    f"req-{i:03d}", "u", {"doc": stage(rig.staging, f"{i}-{uuid.uuid4()}".encode())}
                )
            ),
            None,
        )
        for i in range(COUNT)
    ]
    # The stream goes on past the kill: a consumer can finish a whole small batch before
    # a test gets to kill it, so the second half is published only after the kill.
    rig.publish(messages[: COUNT // 2])
    reader = rig.reader("results")
    first = rig.start(env, "first")
    reader.wait(lambda rs: len(rs) >= 20, 60, "20 results before the kill")
    first.kill()
    rig.publish(messages[COUNT // 2 :])
    second = rig.start(env, "second")
    try:
        second.wait_assigned()
        reader.wait(lambda rs: len({r.json()["request_id"] for r in rs}) >= COUNT, 90, "all")
    finally:
        assert second.stop() == 0
    assert second.logged("request succeeded")  # the group went on without the killed one
    counts = Counter(r.json()["request_id"] for r in reader.records)
    assert sorted(counts) == [f"req-{i:03d}" for i in range(COUNT)]
    assert min(counts.values()) == 1
    for read in reader.records:
        obj = read.json()["objects"]["doc"]
        body = s3.get_object(Bucket=obj["bucket"], Key=obj["key"])["Body"].read()
        assert hashlib.sha256(body).hexdigest() == obj["sha256"]


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_metrics_health_and_readiness(consumer_rig: RigFactory) -> None:
    rig = consumer_rig()
    port = free_port()
    env = rig.env(UPLOAD_STREAM_METRICS_PORT=str(port), UPLOAD_STREAM_STATS_INTERVAL_MS="500")
    consumer = rig.start_in_process(env)
    reader = rig.reader("results", "dlq")
    try:
        wait_for(lambda: _get(port, "/healthz") == (200, "ok\n"), 10, "/healthz")
        wait_for(lambda: _get(port, "/readyz") == (200, "ready\n"), 20, "/readyz")
        rig.publish(
            [
                (b"1", encode(request("m-1", "1", {"doc": stage(rig.staging, b"12345")})), None),
                (b"2", b"garbage", None),
            ]
        )
        reader.wait(lambda rs: len(rs) == 2, 30, "a result and a dead letter")
        metrics = consumer.metrics.registry
        # Results are keyed like requests, so the result's partition is the request's.
        partition = str(next(r.partition for r in reader.records if r.key == b"1"))
        lag = {"topic": rig.topics["requests"], "partition": partition}
        wait_for(
            lambda: metrics.get_sample_value("upload_stream_consumer_lag", lag) == 0,
            10,
            "a consumer lag of 0 on the request's partition",
        )
        status, text = _get(port, "/metrics")
        assert status == 200
        assert 'upload_stream_requests_total{code="",status="succeeded"} 1.0' in text
        assert 'upload_stream_files_total{code="",status="uploaded"} 1.0' in text
        assert "upload_stream_uploaded_bytes_total 5.0" in text
        assert 'upload_stream_dead_letters_total{code="invalid_json"} 1.0' in text
        assert "upload_stream_request_seconds_count 1.0" in text
        assert "upload_stream_assigned_partitions 3.0" in text
        assert _get(port, "/nothing")[0] == 404
    finally:
        assert consumer.stop() == 0
    assert consumer.metrics.summary()["txn_committed"] >= 1
    assert (
        consumer.metrics.registry.get_sample_value(
            "upload_stream_transactions_total", {"outcome": "committed"}
        )
        == consumer.metrics.summary()["txn_committed"]
    )

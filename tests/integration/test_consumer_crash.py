"""Crash safety and group behaviour with the consumer as a real subprocess.

Every request must end with exactly one committed result (read_committed), whatever
happens to the consumer processes, and every reported object must exist with its sha256.
"""

from __future__ import annotations

import ast
import hashlib
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from tests.conftest import unique
from tests.integration.consumer_helpers import (
    ConsumerProcess,
    Reader,
    consumer_env,
    encode,
    publish,
    request,
    stage,
    wait_for,
)

COUNT = 200


def _requests(staging: Path) -> list[tuple[bytes, bytes, None]]:
    records = []
    for i in range(COUNT):
        user = f"user{i % 17}"
        files = {"passport": stage(staging, f"document {i} {uuid.uuid4()}".encode(), "p.pdf")}
        records.append((user.encode(), encode(request(f"req-{i:04d}", user, files)), None))
    return records


def _results(reader: Reader, topic: str) -> list[dict[str, Any]]:
    return [r.json() for r in reader.of(topic)]


def _assert_exactly_once(reader: Reader, topic: str, s3: Any) -> None:
    reader.poll(1.0)  # anything committed late would show up now
    results = _results(reader, topic)
    counts = Counter(r["request_id"] for r in results)
    assert sorted(counts) == [f"req-{i:04d}" for i in range(COUNT)]
    assert [rid for rid, n in counts.items() if n != 1] == []
    for result in results:
        assert result["status"] == "succeeded"
        obj = result["objects"]["passport"]
        body = s3.get_object(Bucket=obj["bucket"], Key=obj["key"])["Body"].read()
        assert hashlib.sha256(body).hexdigest() == obj["sha256"]


def _summary(process: ConsumerProcess) -> dict[str, int]:
    lines = [line["summary"] for line in process.log_lines() if line["msg"] == "stopped"]
    assert len(lines) == 1
    summary: dict[str, int] = lines[0]
    return summary


def _owned(process: ConsumerProcess) -> set[int]:
    """Partitions the process holds now, from its assigned/revoked log lines."""
    owned: set[int] = set()
    for line in process.log_lines():
        verb, _, rest = line["msg"].partition(" ")
        if verb in ("assigned", "revoked", "lost"):
            parts = {p for _, p in ast.literal_eval(rest)}
            owned = owned | parts if verb == "assigned" else owned - parts
    return owned


def _split(a: ConsumerProcess, b: ConsumerProcess) -> bool:
    owned_a, owned_b = _owned(a), _owned(b)
    return bool(owned_a and owned_b) and owned_a | owned_b == {0, 1, 2} and not owned_a & owned_b


def _distinct(reader: Reader, topic: str) -> int:
    return len({r["request_id"] for r in _results(reader, topic)})


def test_kill_9_mid_stream_then_restart_loses_and_duplicates_nothing(
    stack: Any, kafka_topics: Any, group_id: str, make_bucket: Any, s3: Any, tmp_path: Path
) -> None:
    topics = kafka_topics("requests", "results", "dlq")
    env = consumer_env(
        bootstrap=stack.bootstrap_servers,
        topics=topics,
        group_id=group_id,
        bucket=make_bucket("dest"),
        staging=tmp_path,
        **stack.env(),
        UPLOAD_STREAM_TRANSACTIONAL_ID=unique("txn"),  # the restart fences the killed one
        UPLOAD_STREAM_MAX_IN_FLIGHT_REQUESTS="8",
        UPLOAD_STREAM_SSE="none",
    )
    publish(stack.bootstrap_servers, topics["requests"], _requests(tmp_path))
    reader = Reader(stack.bootstrap_servers, [topics["results"]])
    first = ConsumerProcess(env, tmp_path / "first.log")
    try:
        reader.wait(lambda rs: len(rs) >= 40, 60, "40 results before the kill")
        first.kill()
        assert first.proc.returncode == -9
        seen_at_kill = _distinct(reader, topics["results"])
        assert 40 <= seen_at_kill < COUNT
        second = ConsumerProcess(env, tmp_path / "second.log")
        try:
            reader.wait(lambda rs: _distinct(reader, topics["results"]) >= COUNT, 90, "all")
        finally:
            assert second.stop() == 0
        _assert_exactly_once(reader, topics["results"], s3)
        # The restart resumed from the committed offsets: it redid only uncommitted work.
        redone = _summary(second)["requests_succeeded"]
        assert 0 < redone <= COUNT - seen_at_kill
    finally:
        first.stop()
        reader.close()


def test_two_processes_split_partitions_and_one_stops_mid_stream(
    stack: Any, kafka_topics: Any, group_id: str, make_bucket: Any, s3: Any, tmp_path: Path
) -> None:
    topics = kafka_topics("requests", "results", "dlq")
    env = consumer_env(
        bootstrap=stack.bootstrap_servers,
        topics=topics,
        group_id=group_id,
        bucket=make_bucket("dest"),
        staging=tmp_path,
        **stack.env(),
        UPLOAD_STREAM_MAX_IN_FLIGHT_REQUESTS="4",
        UPLOAD_STREAM_SSE="none",
    )
    reader = Reader(stack.bootstrap_servers, [topics["results"]])
    a = ConsumerProcess(env, tmp_path / "a.log")
    b = ConsumerProcess(env, tmp_path / "b.log")
    try:
        wait_for(lambda: _split(a, b), 30, "the two processes to split the three partitions")
        publish(stack.bootstrap_servers, topics["requests"], _requests(tmp_path))
        reader.wait(lambda rs: len(rs) >= 60, 60, "60 results before stopping one")
        assert b.stop() == 0
        reader.wait(lambda rs: _distinct(reader, topics["results"]) >= COUNT, 90, "all")
        _assert_exactly_once(reader, topics["results"], s3)
        assert _summary(b)["requests_succeeded"] > 0
        assert _owned(a) == {0, 1, 2}  # A took over B's partitions
    finally:
        assert a.stop() == 0
        b.stop()
        reader.close()
    a_summary = _summary(a)
    assert a_summary["requests_succeeded"] > 0
    assert a_summary["txn_committed"] > 0

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
    RigFactory,
    encode,
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
    # Positions say which duplicates were committed twice (different offsets).
    duplicates = {
        rid: [(r.partition, r.offset) for r in reader.of(topic) if r.json()["request_id"] == rid]
        for rid, n in counts.items()
        if n != 1
    }
    assert duplicates == {}
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
    consumer_rig: RigFactory, s3: Any
) -> None:
    rig = consumer_rig()
    results = rig.topics["results"]
    env = rig.env(
        UPLOAD_STREAM_TRANSACTIONAL_ID=unique("txn"),  # the restart fences the killed one
        UPLOAD_STREAM_MAX_IN_FLIGHT_REQUESTS="8",
    )
    rig.publish(_requests(rig.staging))
    reader = rig.reader("results")
    first = rig.start(env, "first")
    reader.wait(lambda rs: len(rs) >= 40, 60, "40 results before the kill")
    first.kill()
    assert first.proc.returncode == -9
    seen_at_kill = _distinct(reader, results)
    assert 40 <= seen_at_kill < COUNT
    second = rig.start(env, "second")
    try:
        reader.wait(lambda rs: _distinct(reader, results) >= COUNT, 90, "all")
    finally:
        assert second.stop() == 0
    _assert_exactly_once(reader, results, s3)
    # The restart resumed from the committed offsets: it redid only uncommitted work.
    redone = _summary(second)["requests_succeeded"]
    assert 0 < redone <= COUNT - seen_at_kill


def test_two_processes_split_partitions_and_one_stops_mid_stream(
    consumer_rig: RigFactory, s3: Any
) -> None:
    rig = consumer_rig()
    results = rig.topics["results"]
    env = rig.env(UPLOAD_STREAM_MAX_IN_FLIGHT_REQUESTS="4")
    reader = rig.reader("results")
    a = rig.start(env, "a")
    b = rig.start(env, "b")
    try:
        wait_for(lambda: _split(a, b), 30, "the two processes to split the three partitions")
        rig.publish(_requests(rig.staging))
        reader.wait(lambda rs: len(rs) >= 60, 60, "60 results before stopping one")
        assert b.stop() == 0
        reader.wait(lambda rs: _distinct(reader, results) >= COUNT, 90, "all")
        _assert_exactly_once(reader, results, s3)
        assert _summary(b)["requests_succeeded"] > 0
        assert _owned(a) == {0, 1, 2}  # A took over B's partitions
    finally:
        assert a.stop() == 0
    a_summary = _summary(a)
    assert a_summary["requests_succeeded"] > 0
    assert a_summary["txn_committed"] > 0

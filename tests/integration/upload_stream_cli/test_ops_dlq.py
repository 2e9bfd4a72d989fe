"""`dlq list` and `replay --from dlq` against a real broker, on hand-built dead letters.

The DLQ holds what the consumer would write (the original bytes, the original headers and
the contract's `dlq_*` headers): garbage, requests still invalid, and requests rejected by
a policy that has since been fixed. No consumer runs here: the checks are on what the
tools print and on what lands on the requests topic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from tests.integration.consumer_helpers import Reader, encode, publish, request
from upload_engine.offload import offload
from upload_stream_cli.main import run

HeaderList = list[tuple[str, bytes | None]]
BLOB = {
    "uri": "s3://upload-stream-staging/in/a.pdf",
    "size": 3,
    "sha256": "a" * 64,
    "content_type": "application/pdf",
    "filename": "a.pdf",
}


def dead_letter(code: str, offset: int, original: HeaderList | None = None) -> HeaderList:
    return [
        *(original or []),
        ("dlq_reason_code", code.encode()),
        ("dlq_reason", f"because {code}".encode()),
        ("dlq_source_topic", b"uploads.requests"),
        ("dlq_source_partition", b"0"),
        ("dlq_source_offset", str(offset).encode()),
        ("dlq_failed_at", b"2026-11-28T10:00:00.000Z"),
    ]


def records() -> list[tuple[bytes | None, bytes | None, HeaderList | None]]:
    valid = [
        request("fix-1", "u1", {"passport": BLOB}, bucket="new-bucket", metadata={"case": "1"}),
        request("fix-2", "u2", {"passport": BLOB, "selfie": BLOB}, bucket="new-bucket"),
        request("fix-3", "u3", {"selfie": BLOB}, reply_topic="kyc.replies"),
    ]
    return [
        (b"\xff", b"\x1b[2J\x1b]0;owned\x07\xfe not json", dead_letter("invalid_json", 0)),
        (b"u9", encode({"schema_version": 1, "request_id": "bad-1", "user_id": "u9"}),
         dead_letter("invalid_request", 1, [("correlation_id", b"bad-1")])),
        (b"u9", encode(request("v2-1", "u9", {"passport": BLOB}, schema_version=2)),
         dead_letter("unsupported_schema_version", 2)),
        (b"u1", encode(valid[0]), dead_letter("bucket_not_allowed", 3)),
        (b"u2", encode(valid[1]), dead_letter("bucket_not_allowed", 4)),
        (b"u3", encode(valid[2]), dead_letter("reply_topic_not_allowed", 5)),
    ]  # fmt: skip


@pytest.fixture
def topics(
    stack: Any, kafka_topics: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    names: dict[str, str] = kafka_topics("requests", "results", "dlq")
    publish(stack.bootstrap_servers, names["dlq"], records())
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", stack.bootstrap_servers)
    monkeypatch.setenv("UPLOAD_STREAM_REQUESTS_TOPIC", names["requests"])
    monkeypatch.setenv("UPLOAD_STREAM_RESULTS_TOPIC", names["results"])
    monkeypatch.setenv("UPLOAD_STREAM_DLQ_TOPIC", names["dlq"])
    yield names


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = run(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def high_watermarks(bootstrap: str, topic: str) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex})
    try:
        return [_high_watermark(consumer, TopicPartition(topic, p)) for p in range(3)]
    finally:
        consumer.close()


# What a partition of a topic created moments ago answers while it elects its leader;
# librdkafka does not always flag these retriable (NOT_LEADER_FOR_PARTITION was not, in CI).
_ELECTING = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
    }
)


def _high_watermark(consumer: Consumer, partition: TopicPartition) -> int:
    # Ask again for a few seconds while the partition's leader is being elected.
    deadline = time.monotonic() + 10
    while True:
        try:
            return int(offload(consumer.get_watermark_offsets, partition, 10.0)[1])
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            transient = error.retriable() or error.code() in _ELECTING
            if not transient or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def ops_groups(bootstrap: str) -> list[str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    listed = offload(admin.list_consumer_groups().result, 15)
    return [g.group_id for g in listed.valid if g.group_id.startswith("upload-stream-ops-")]


def test_dlq_list_counts_every_kind_and_moves_no_offsets(
    stack: Any, topics: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = cli(["dlq", "list", "--json"], capsys)
    assert (status, err) == (0, "")
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[-1] == {
        "type": "summary",
        "total": 6,
        "by_reason_code": {
            "invalid_json": 1,
            "invalid_request": 1,
            "unsupported_schema_version": 1,
            "bucket_not_allowed": 2,
            "reply_topic_not_allowed": 1,
        },
    }
    by_offset = {r["source_offset"]: r for r in lines[:-1]}
    assert sorted(by_offset) == [0, 1, 2, 3, 4, 5]
    assert [
        (r["request_id"], r["user_id"], r["decodable"]) for _, r in sorted(by_offset.items())
    ] == [
        (None, None, False),
        ("bad-1", "u9", True),
        ("v2-1", "u9", True),
        ("fix-1", "u1", True),
        ("fix-2", "u2", True),
        ("fix-3", "u3", True),
    ]
    assert by_offset[0]["value_bytes"] == 24

    status, out, _ = cli(["dlq", "list", "--counts"], capsys)
    assert (status, out) == (
        0,
        "6 record(s) by reason code:\n  bucket_not_allowed: 2\n  invalid_json: 1\n"
        "  invalid_request: 1\n  reply_topic_not_allowed: 1\n  unsupported_schema_version: 1\n",
    )
    status, out, _ = cli(["dlq", "list", "--code", "bucket_not_allowed", "--user-id", "u2"], capsys)
    assert status == 0
    assert [line.split("  ")[3] for line in out.splitlines()[:-2]] == ["request=fix-2"]
    assert out.splitlines()[-2:] == ["1 record(s) by reason code:", "  bucket_not_allowed: 1"]

    status, out, _ = cli(["dlq", "show", "--code", "invalid_json"], capsys)
    assert status == 0
    assert "\x1b" not in out and "\x07" not in out
    assert "  value: <24 bytes hex:1b5b324a1b5d303b6f776e656407fe206e6f74206a736f6e>" in out
    assert ops_groups(stack.bootstrap_servers) == []


def test_the_console_entry_point_lists_the_dlq(stack: Any, topics: dict[str, str]) -> None:
    """Through `upload_stream_cli.entry` (gevent-patched, as installed), not `run()`."""
    done = subprocess.run(
        [sys.executable, "-m", "upload_stream_cli.entry", "dlq", "list", "--counts"],
        env={**os.environ},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.decode().splitlines()[0] == "6 record(s) by reason code:"


def test_replay_from_dlq_publishes_only_what_can_succeed_and_only_once(
    stack: Any, topics: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    before = high_watermarks(stack.bootstrap_servers, topics["requests"])
    status, out, err = cli(["replay", "--from", "dlq", "--dry-run"], capsys)
    assert status == 0
    # Partitions are read interleaved, so the order of lines is not fixed.
    assert sorted((ln.split()[0], ln.split()[3]) for ln in out.splitlines()) == [
        ("dry_run", "request=fix-1"),
        ("dry_run", "request=fix-2"),
        ("dry_run", "request=fix-3"),
        ("not_replayable", "request=-"),
        ("still_invalid", "request=bad-1"),
        ("still_invalid", "request=v2-1"),
    ]
    assert err.splitlines()[-1] == (
        "replay from dlq: published=0 dry_run=3 failed=0 skipped_already_replayed=0 "
        "skipped_succeeded_later=0 skipped_permanent=0 skipped_limit=0 not_replayable=1 "
        "still_invalid=2"
    )
    assert high_watermarks(stack.bootstrap_servers, topics["requests"]) == before == [0, 0, 0]

    status, _, err = cli(["replay", "--from", "dlq"], capsys)
    assert status == 0
    assert err.splitlines()[-1].startswith("replay from dlq: published=3 dry_run=0 failed=0 ")

    reader = Reader(stack.bootstrap_servers, [topics["requests"]])
    try:
        reader.wait(lambda rs: len(rs) >= 3, 20, "3 replays")
        reader.poll(1.0)
        sent = sorted((r.json() for r in reader.records), key=lambda r: r["request_id"])
        assert [(r["request_id"], r["replay_of"], r["attempt"]) for r in sent] == [
            ("fix-1.r2", "fix-1", 2),
            ("fix-2.r2", "fix-2", 2),
            ("fix-3.r2", "fix-3", 2),
        ]
        assert [r["bucket"] for r in sent] == ["new-bucket", "new-bucket", None]
        assert sent[0]["metadata"] == {"case": "1"}
        assert sorted(sent[1]["files"]) == ["passport", "selfie"]
        assert [(r.key, r.header("correlation_id")) for r in sorted(
            reader.records, key=lambda r: r.key or b"")] == [
            (b"u1", "fix-1.r2"), (b"u2", "fix-2.r2"), (b"u3", "fix-3.r2"),
        ]  # fmt: skip
    finally:
        reader.close()

    after = sum(high_watermarks(stack.bootstrap_servers, topics["requests"]))
    status, _, err = cli(["replay", "--from", "dlq"], capsys)
    assert status == 0
    assert err.splitlines()[-1] == (
        "replay from dlq: published=0 dry_run=0 failed=0 skipped_already_replayed=3 "
        "skipped_succeeded_later=0 skipped_permanent=0 skipped_limit=0 not_replayable=1 "
        "still_invalid=2"
    )
    assert sum(high_watermarks(stack.bootstrap_servers, topics["requests"])) == after == 3

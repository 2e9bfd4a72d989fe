"""ResultReader and tail_results against the real broker: commit-after-handler, DLQ-safe
decoding of unreadable events, and the group-less tail the CLI uses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from producer_lib.reader import ResultReader, UnreadableResult, tail_results
from schemas import ResultStatus, UploadResult, encode_result, message_key, result_headers

T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def _result(request_id: str) -> UploadResult:
    return UploadResult(
        request_id=request_id,
        user_id="42",
        bucket="dest-bucket",
        status=ResultStatus.FAILED,
        started_at=T0,
        finished_at=T0,
        duration_ms=0,
    )


def _fill(kafka: dict[str, str], topic: str) -> None:
    """Offsets 0..3: r1, r2, garbage, r3 (one partition, so order is exact)."""
    producer = Producer(kafka)
    for value in (_result("r1"), _result("r2"), b"{not json", _result("r3")):
        if isinstance(value, UploadResult):
            producer.produce(
                topic,
                key=message_key("42"),
                value=encode_result(value),
                headers=list(result_headers(value)),
            )
        else:
            producer.produce(topic, key=b"42", value=value)
    assert producer.flush(10) == 0


def _committed(kafka: dict[str, str], group: str, topic: str) -> int:
    consumer = Consumer({**kafka, "group.id": group})
    try:
        (tp,) = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        offset: int = tp.offset
        return offset
    finally:
        consumer.close()


@pytest.fixture
def topic(kafka_topics: Any, kafka_config: dict[str, str]) -> str:
    name: str = kafka_topics("results", partitions=1)["results"]
    _fill(kafka_config, name)
    return name


def test_reader_yields_results_reports_garbage_and_commits_everything(
    kafka_config: dict[str, str], topic: str, group_id: str
) -> None:
    bad: list[UnreadableResult] = []
    with ResultReader(
        kafka_config, group_id=group_id, topic=topic, from_beginning=True, on_error=bad.append
    ) as reader:
        seen = [r.request_id for r in reader.results(idle_timeout_s=3.0)]

    assert seen == ["r1", "r2", "r3"]
    assert len(bad) == 1
    assert (bad[0].topic, bad[0].partition, bad[0].offset) == (topic, 0, 2)
    assert bad[0].reason.startswith("value: Invalid JSON")
    assert _committed(kafka_config, group_id, topic) == 4


def test_a_handler_that_raises_leaves_its_result_uncommitted(
    kafka_config: dict[str, str], topic: str, group_id: str
) -> None:
    handled: list[str] = []

    def handler(result: UploadResult) -> None:
        if result.request_id == "r2":
            raise RuntimeError("downstream is down")
        handled.append(result.request_id)

    with (
        ResultReader(kafka_config, group_id=group_id, topic=topic, from_beginning=True) as reader,
        pytest.raises(RuntimeError, match="downstream is down"),
    ):
        reader.run(handler, idle_timeout_s=3.0)
    assert handled == ["r1"]
    assert _committed(kafka_config, group_id, topic) == 1

    # The same group starts again at r2, and the garbage at offset 2 does not stop it.
    with ResultReader(kafka_config, group_id=group_id, topic=topic) as reader:
        count = reader.run(
            lambda r: handled.append(r.request_id), max_results=2, idle_timeout_s=3.0
        )
    assert count == 2
    assert handled == ["r1", "r2", "r3"]
    assert _committed(kafka_config, group_id, topic) == 4


def test_tail_results_reads_what_is_there_and_stops(
    kafka_config: dict[str, str], topic: str
) -> None:
    bad: list[UnreadableResult] = []
    everything = [
        r.request_id
        for r in tail_results(kafka_config, topic=topic, from_beginning=True, on_error=bad.append)
    ]
    last_two = [r.request_id for r in tail_results(kafka_config, topic=topic, last=2)]

    assert everything == ["r1", "r2", "r3"]
    assert [b.offset for b in bad] == [2]
    assert last_two == ["r3"]  # offsets 2 (garbage) and 3

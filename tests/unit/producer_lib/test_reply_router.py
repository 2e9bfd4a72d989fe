"""ReplyRouter's dispatching, with a fake consumer in place of librdkafka."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import KafkaError

from producer_lib import reply_router as module
from producer_lib.errors import ClientClosedError, ReplyChannelError, ResultTimeout
from producer_lib.reply_router import ReplyRouter
from schemas import ResultStatus, UploadResult, encode_result

T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def _value(request_id: str, bucket: str = "dest-bucket") -> bytes:
    return encode_result(
        UploadResult(
            request_id=request_id,
            user_id="1",
            bucket=bucket,
            status=ResultStatus.FAILED,
            started_at=T0,
            finished_at=T0,
            duration_ms=0,
        )
    )


class Message:
    def __init__(self, value: bytes | None, headers: Any = None, error: Any = None) -> None:
        self._value, self._headers, self._error = value, headers, error

    def error(self) -> Any:
        return self._error

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> Any:
        return self._headers

    def topic(self) -> str:
        return "results"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 9


class Partitions:
    def __init__(self) -> None:
        self.error = None
        self.partitions = {0: None, 1: None}


class FakeConsumer:
    last: FakeConsumer

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.queue: list[Message] = []
        self.assigned: list[Any] = []
        self.closed = False
        self.consume_timeouts: list[float] = []
        FakeConsumer.last = self

    def list_topics(self, topic: str, timeout: float) -> Any:
        return type("Meta", (), {"topics": {topic: Partitions()}})()

    def get_watermark_offsets(self, tp: Any, timeout: float, cached: bool) -> tuple[int, int]:
        return (0, 40 + tp.partition)

    def assign(self, partitions: list[Any]) -> None:
        self.assigned = partitions

    def poll(self, timeout: float) -> Message | None:
        if not self.queue:
            time.sleep(0.01)
            return None
        return self.queue.pop(0)

    def consume(self, n: int, timeout: float) -> list[Message]:
        # librdkafka's consume(n, timeout) waits out `timeout` unless n records arrive.
        self.consume_timeouts.append(timeout)
        batch, self.queue = self.queue[:n], self.queue[n:]
        return batch

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def router(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(module, "Consumer", FakeConsumer)
    made = ReplyRouter({"bootstrap.servers": "b"}, topic="results")
    yield made
    made.close()


def test_assigned_at_the_end_of_every_partition_read_committed(router: ReplyRouter) -> None:
    router.start()
    consumer = FakeConsumer.last
    assert [(tp.topic, tp.partition, tp.offset) for tp in consumer.assigned] == [
        ("results", 0, 40),
        ("results", 1, 41),
    ]
    assert consumer.config["isolation.level"] == "read_committed"
    assert consumer.config["enable.auto.commit"] is False


def test_results_reach_their_waiters_and_others_are_skipped(router: ReplyRouter) -> None:
    first, second = router.expect("req-1"), router.expect("req-2")
    FakeConsumer.last.queue = [
        Message(_value("req-x"), [("correlation_id", b"req-x")]),  # not ours
        Message(b"{garbage", [("correlation_id", b"req-1")]),  # ours, unreadable
        Message(_value("req-2", "second")),  # no header: decoded to find out
        Message(_value("req-1", "first"), [("correlation_id", b"req-1")]),
        Message(_value("req-1", "duplicate"), [("correlation_id", b"req-1")]),
    ]
    assert router.wait(first, 5.0).bucket == "first"
    assert router.wait(second, 5.0).bucket == "second"
    assert router._waiters == {}


def test_the_router_waits_only_in_poll_which_returns_at_the_first_record(
    router: ReplyRouter,
) -> None:
    """consume(n, t) waits out t unless n records arrive: a lone result would wait for it."""
    waiter = router.expect("req-1")
    FakeConsumer.last.queue = [
        Message(_value("req-x"), [("correlation_id", b"req-x")]),
        Message(_value("req-1", "first"), [("correlation_id", b"req-1")]),
    ]
    assert router.wait(waiter, 5.0).bucket == "first"
    assert FakeConsumer.last.consume_timeouts
    assert set(FakeConsumer.last.consume_timeouts) == {0}


def test_a_wait_that_times_out_names_the_request(router: ReplyRouter) -> None:
    waiter = router.expect("req-late")
    with pytest.raises(ResultTimeout) as caught:
        router.wait(waiter, 0.05)
    assert caught.value.request_id == "req-late"
    assert router._waiters == {}


def test_a_fatal_consumer_error_wakes_every_waiter(router: ReplyRouter) -> None:
    waiter = router.expect("req-1")
    fatal = KafkaError(KafkaError._FATAL, "fenced", fatal=True)
    FakeConsumer.last.queue = [Message(None, error=fatal)]
    with pytest.raises(ReplyChannelError, match="the reply consumer failed"):
        router.wait(waiter, 5.0)
    with pytest.raises(ReplyChannelError):
        router.start()


def test_close_wakes_waiters_and_closes_the_consumer(router: ReplyRouter) -> None:
    waiter = router.expect("req-1")
    router.close()
    with pytest.raises(ClientClosedError):
        router.wait(waiter, 5.0)
    assert FakeConsumer.last.closed is True
    with pytest.raises(ClientClosedError):
        router.expect("req-2")


def test_without_arguments_it_reads_the_shared_topic_and_fetch_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(module, "Consumer", FakeConsumer)
    monkeypatch.setenv("UPLOAD_STREAM_RESULTS_TOPIC", "team.results")
    monkeypatch.setenv("UPLOAD_STREAM_FETCH_WAIT_MAX_MS", "0")  # valid for every reader now
    made = ReplyRouter({"bootstrap.servers": "b"})
    try:
        assert made.topic == "team.results"
        assert made._config["fetch.wait.max.ms"] == 0
    finally:
        made.close()
    monkeypatch.delenv("UPLOAD_STREAM_FETCH_WAIT_MAX_MS")
    assert ReplyRouter({"bootstrap.servers": "b"})._config["fetch.wait.max.ms"] == 500

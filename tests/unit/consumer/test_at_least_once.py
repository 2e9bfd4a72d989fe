"""at_least_once: an offset is committed only once every output of its record is acked.

The loop runs against a scripted producer: each produce is held until the test says how the
broker answers it, and the answer is served on the next loop step, as librdkafka serves
delivery reports from `poll`.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import pytest
from confluent_kafka import KafkaError

from consumer.dispatch import Policy
from consumer.errors import OutputWriteError
from consumer.ledger import PartitionKey
from consumer.loop import ConsumerLoop
from consumer.metrics import Metrics
from consumer.outputs import Output
from consumer.settings import ConsumerSettings, ProcessingGuarantee
from upload_engine.model import UploadJob, UploadOutcome

REQUESTS, RESULTS, DLQ = "requests", "results", "dlq"
POLICY = Policy(
    default_bucket="dest",
    allowed_buckets=frozenset({"dest"}),
    results_topic=RESULTS,
    allowed_reply_topics=frozenset({RESULTS}),
    dlq_topic=DLQ,
    default_max_workers=5,
    max_files_per_request=10,
)
TIMED_OUT = KafkaError(KafkaError._MSG_TIMED_OUT)


def _rejected_request() -> bytes:
    """A valid request for a bucket not allowed: its record has a result and a dead letter."""
    blob = {"uri": "file:///s/a", "size": 1, "sha256": "a" * 64, "content_type": "image/png"}
    return json.dumps(
        {
            "schema_version": 1,
            "request_id": "r1",
            "user_id": 42,
            "bucket": "nope",
            "files": {"doc": blob},
            "created_at": "2026-11-28T12:00:00Z",
        }
    ).encode()


class FakeMessage:
    def __init__(self, topic: str, partition: int, offset: int, value: bytes) -> None:
        self._where = (topic, partition, offset)
        self._value = value

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._where[0]

    def partition(self) -> int:
        return self._where[1]

    def offset(self) -> int:
        return self._where[2]

    def key(self) -> bytes:
        return b"42"

    def value(self) -> bytes:
        return self._value

    def headers(self) -> list[tuple[str, bytes]]:
        return []


class FakePartition:
    def __init__(self, topic: str, partition: int) -> None:
        self.topic, self.partition = topic, partition


class FakeConsumer:
    def __init__(self) -> None:
        self.callbacks: dict[str, Any] = {}

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.callbacks = callbacks

    def close(self) -> None:
        pass


class FakeProducer:
    def close(self, *args: Any) -> None:
        pass

    def __len__(self) -> int:
        return 0


class ScriptedIO:
    """A `KafkaIO` whose broker answers each produce only when the test says so."""

    def __init__(self) -> None:
        self.consumer = FakeConsumer()
        self.producer = FakeProducer()
        self.to_fetch: list[FakeMessage] = []
        self.pending: list[tuple[Output, Any]] = []  # produced, not answered yet
        self.answers: deque[tuple[Any, KafkaError | None]] = deque()
        self.delivered: list[Output] = []
        self.committed: list[dict[PartitionKey, int]] = []
        self.waits: list[float] = []  # timeouts of the idle waits
        self.during_wait: list[Any] = []  # run inside the next idle wait (callbacks)

    # The script.

    def answer(self, topic: str, err: KafkaError | None) -> None:
        """The broker answers the oldest produce to `topic` still unanswered."""
        index = next(i for i, (out, _cb) in enumerate(self.pending) if out.topic == topic)
        output, callback = self.pending.pop(index)
        if err is None:
            self.delivered.append(output)
        self.answers.append((callback, err))

    def answer_all(self, topic: str, err: KafkaError | None) -> None:
        while any(out.topic == topic for out, _cb in self.pending):
            self.answer(topic, err)

    def unanswered(self, topic: str) -> int:
        return sum(1 for out, _cb in self.pending if out.topic == topic)

    # What the loop calls.

    def serve_producer(self) -> None:
        while self.answers:
            callback, err = self.answers.popleft()
            callback(err, None)

    def fetch(self, max_messages: int) -> list[FakeMessage]:
        taken, self.to_fetch = self.to_fetch[:max_messages], self.to_fetch[max_messages:]
        return taken

    def wait_for_messages(self, max_messages: int, timeout_s: float) -> list[FakeMessage]:
        self.waits.append(timeout_s)
        for callback in self.during_wait:
            callback()
        self.during_wait = []
        return self.fetch(max_messages)

    def produce(self, output: Output, on_delivery: Any = None) -> None:
        assert on_delivery is not None, "at_least_once needs every delivery report"
        self.pending.append((output, on_delivery))

    def flush(self, timeout_s: float) -> int:
        self.serve_producer()
        return len(self.pending)

    def commit_offsets(self, offsets: dict[PartitionKey, int], *, wait: bool) -> None:
        self.committed.append(dict(offsets))

    def pause(self, tps: Any) -> None:
        pass

    def resume(self, tps: Any) -> None:
        pass

    def seek(self, tp: PartitionKey, offset: int) -> bool:
        return True


class NoEngine:
    def upload(self, job: UploadJob) -> UploadOutcome:
        raise AssertionError("a rejected request is never uploaded")

    def close(self) -> None:
        pass


def _loop(io: ScriptedIO, poll_idle_s: float = 0.001) -> ConsumerLoop:
    settings = ConsumerSettings(
        processing_guarantee=ProcessingGuarantee.AT_LEAST_ONCE,
        requests_topic=REQUESTS,
        poll_idle_s=poll_idle_s,
    )
    loop = ConsumerLoop(
        settings=settings,
        policy=POLICY,
        io=io,  # type: ignore[arg-type]
        engine=NoEngine(),
        metrics=Metrics(),
    )
    loop.start()
    io.consumer.callbacks["on_assign"](io.consumer, [FakePartition(REQUESTS, 0)])
    return loop


def test_a_late_ack_of_the_first_attempt_does_not_commit_a_retried_output() -> None:
    io = ScriptedIO()
    loop = _loop(io)
    io.to_fetch = [FakeMessage(REQUESTS, 0, 5, _rejected_request())]
    loop.step()  # rejected at once: its result and dead letter are produced
    assert (io.unanswered(RESULTS), io.unanswered(DLQ)) == (1, 1)

    io.answer(RESULTS, TIMED_OUT)  # attempt 1 half-fails: its result is not written...
    loop.step()  # ...so the result is produced again
    assert io.unanswered(RESULTS) == 1
    io.answer(DLQ, None)  # attempt 1's dead letter is acked late, after the retry began
    loop.step()
    io.answer_all(DLQ, None)  # any dead letter produced again is acked too
    loop.step()
    loop.step()
    # The retried result is still unanswered: committing now could lose it.
    assert io.unanswered(RESULTS) == 1
    assert io.committed == []

    io.answer(RESULTS, TIMED_OUT)  # the retry fails as well...
    loop.step()
    loop.step()
    assert io.unanswered(RESULTS) == 1  # ...and is produced once more, not forgotten
    assert io.committed == []

    io.answer(RESULTS, None)
    loop.step()
    loop.step()
    assert io.committed == [{(REQUESTS, 0): 6}]
    assert [o.topic for o in io.delivered].count(RESULTS) == 1
    assert DLQ in [o.topic for o in io.delivered]


def test_an_output_that_cannot_be_written_stops_the_consumer_uncommitted() -> None:
    io = ScriptedIO()
    loop = _loop(io)
    io.to_fetch = [FakeMessage(REQUESTS, 0, 5, _rejected_request())]
    loop.step()
    io.answer(RESULTS, None)
    io.answer(DLQ, KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    with pytest.raises(OutputWriteError) as caught:
        for _ in range(3):
            loop.step()
    assert str(caught.value).startswith("cannot write to topic 'dlq': TOPIC_AUTHORIZATION_FAILED")
    assert io.unanswered(DLQ) == 0  # not produced again: no retry cures it
    assert io.committed == []

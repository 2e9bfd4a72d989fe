"""decide(): decode + policy for every request-level code; Dispatcher with a fake engine."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import gevent
import pytest

from consumer.backpressure import Slots
from consumer.dispatch import Accepted, Dispatcher, Policy, Rejected, decide
from consumer.ledger import Ledger, State
from consumer.metrics import Metrics
from consumer.outputs import OutputKind, RequestMessage
from schemas import FileFailureCode, StoredObject
from upload_engine.model import UploadJob, UploadOutcome

POLICY = Policy(
    default_bucket="dest",
    allowed_buckets=frozenset({"dest", "other"}),
    results_topic="results",
    allowed_reply_topics=frozenset({"results", "replies"}),
    dlq_topic="dlq",
    default_max_workers=5,
    max_files_per_request=2,
)
BLOB = {"uri": "file:///s/a", "size": 1, "sha256": "a" * 64, "content_type": "image/png"}
TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _source(value: bytes | None, headers: Any = None) -> RequestMessage:
    return RequestMessage("requests", 1, 7, b"key", value, headers)


def _request(**extra: Any) -> bytes:
    base = {
        "schema_version": 1,
        "request_id": "r1",
        "user_id": 42,
        "files": {"doc": BLOB},
        "created_at": "2026-11-28T12:00:00Z",
    }
    return json.dumps({**base, **extra}).encode()


def test_valid_request_becomes_a_job_with_defaults() -> None:
    decision = decide(_source(_request(), [("traceparent", TRACE.encode())]), POLICY)
    assert isinstance(decision, Accepted)
    assert decision.job.bucket == "dest"
    assert decision.job.max_workers == 5
    assert decision.job.user_id == "42"
    assert decision.reply_topic == "results"
    assert decision.traceparent == TRACE


def test_request_names_allowed_bucket_reply_topic_and_workers() -> None:
    decision = decide(
        _source(_request(bucket="other", reply_topic="replies", max_workers=3)), POLICY
    )
    assert isinstance(decision, Accepted)
    assert (decision.job.bucket, decision.reply_topic, decision.job.max_workers) == (
        "other",
        "replies",
        3,
    )


@pytest.mark.parametrize(
    ("value", "code", "result_topic"),
    [
        (b"not json", "invalid_json", None),
        (None, "invalid_json", None),
        (b"[]", "invalid_request", None),
        (_request(created_at="soon"), "invalid_request", "results"),
        (_request(schema_version=2), "unsupported_schema_version", "results"),
        (_request(files={"a": BLOB, "b": BLOB, "c": BLOB}), "too_many_files", "results"),
        (_request(bucket="nope"), "bucket_not_allowed", "results"),
        # An empty string is not null: it must not quietly mean the default bucket.
        (_request(bucket=""), "bucket_not_allowed", "results"),
        (_request(reply_topic="nope"), "reply_topic_not_allowed", "results"),
        (_request(reply_topic="replies", bucket="nope"), "bucket_not_allowed", "replies"),
    ],
)
def test_rejections_dead_letter_and_answer_when_identifiable(
    value: bytes | None, code: str, result_topic: str | None
) -> None:
    original = [("traceparent", TRACE.encode())]
    decision = decide(_source(value, original), POLICY)
    assert isinstance(decision, Rejected)
    assert decision.code.value == code
    kinds = [o.kind for o in decision.outputs]
    dead = decision.outputs[-1]
    assert (dead.topic, dead.key, dead.value) == ("dlq", b"key", value)
    assert dead.headers[0] == original[0]
    assert dict(dead.headers)["dlq_reason_code"] == code.encode()
    assert dict(dead.headers)["dlq_source_offset"] == b"7"
    if result_topic is None:
        assert kinds == [OutputKind.DLQ]
        return
    assert kinds == [OutputKind.RESULT, OutputKind.DLQ]
    result = decision.outputs[0]
    assert result.topic == result_topic
    assert result.key == b"42"
    body = json.loads(result.value or b"")
    assert (body["status"], body["error"]["code"], body["bucket"]) == ("failed", code, "dest")
    assert dict(result.headers)["traceparent"] == TRACE.encode()


class FakeEngine:
    def __init__(self, fail: bool = False) -> None:
        self.jobs: list[UploadJob] = []
        self.fail = fail

    def upload(self, job: UploadJob) -> UploadOutcome:
        self.jobs.append(job)
        if self.fail:
            raise RuntimeError("boom")
        now = datetime.now(UTC)
        obj = StoredObject(
            bucket=job.bucket,
            key="k/doc.png",
            size=1,
            sha256="a" * 64,
            content_type="image/png",
            etag='"e"',
            version_id=None,
        )
        return UploadOutcome(objects={"doc": obj}, started_at=now, finished_at=now)

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("fail", "status"), [(False, "succeeded"), (True, "failed")])
def test_dispatcher_runs_engine_and_frees_the_slot(fail: bool, status: str) -> None:
    ledger, slots, metrics, engine = Ledger(), Slots(1), Metrics(), FakeEngine(fail)
    dispatcher = Dispatcher(
        policy=POLICY,
        engine=engine,
        collector=ledger,
        slots=slots,
        metrics=metrics,
        wake=lambda: None,
    )
    record = ledger.track("requests", 1, 7)
    assert slots.try_acquire()
    dispatcher.dispatch(record, _source(_request()))
    gevent.wait(timeout=5)
    assert slots.used == 0
    assert record.state is State.DONE
    body = json.loads(record.outputs[0].value or b"")
    assert body["status"] == status
    if fail:
        assert body["failures"]["doc"]["code"] == FileFailureCode.INTERNAL_ERROR.value
    assert metrics.summary()[f"requests_{status}"] == 0  # counted once committed...
    ledger.release([record])
    assert metrics.summary()[f"requests_{status}"] == 1
    assert metrics.summary()[f"files_{'failed' if fail else 'uploaded'}"] == 1

"""From a fetched message to outputs: decode, apply the consumer's policy, upload.

`decide` is pure: it turns one message into either the outputs of a rejection (a dead
letter, plus a failed result when the request can be identified) or an accepted job.
`Dispatcher` runs accepted jobs on the engine, one greenlet per request; the caller has
already taken a slot for it (`consumer.backpressure.Slots`), released here in `finally`.
Upload greenlets never touch Kafka: they hand their outputs to the checkpoint and wake
the loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

import gevent

from consumer.backpressure import Slots
from consumer.ledger import Record
from consumer.metrics import Metrics
from consumer.outputs import Output, OutputKind, RequestMessage, dlq_output, result_output
from consumer.results import rejected_result, result_for_request
from consumer.settings import ConsumerSettings
from consumer.timeline import HEADER as TIMELINE_HEADER
from consumer.timeline import Cpu, Timeline
from schemas import (
    BlobRef,
    FileFailure,
    FileFailureCode,
    RequestDecodeError,
    RequestErrorCode,
    UploadRequest,
    decode_request,
    header,
    valid_traceparent,
)
from upload_engine.model import UploadJob, UploadOutcome
from upload_engine.settings import EngineSettings

log = logging.getLogger(__name__)


class Collector(Protocol):
    """Takes a finished record's outputs (`consumer.checkpoint.Checkpoint`)."""

    def complete(self, record: Record, outputs: list[Output]) -> object: ...


class Engine(Protocol):
    def upload(self, job: UploadJob) -> UploadOutcome: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Policy:
    """The consumer's rules for what a request may ask for."""

    default_bucket: str
    allowed_buckets: frozenset[str]
    results_topic: str
    allowed_reply_topics: frozenset[str]
    dlq_topic: str
    default_max_workers: int
    max_files_per_request: int

    @classmethod
    def of(cls, consumer: ConsumerSettings, engine: EngineSettings) -> Policy:
        if not engine.default_bucket:
            raise ValueError("default_bucket is required")
        return cls(
            default_bucket=engine.default_bucket,
            allowed_buckets=frozenset(engine.allowed_buckets),
            results_topic=consumer.results_topic,
            allowed_reply_topics=frozenset(consumer.allowed_reply_topics),
            dlq_topic=consumer.dlq_topic,
            default_max_workers=engine.default_max_workers,
            max_files_per_request=consumer.max_files_per_request,
        )


@dataclass(frozen=True)
class Accepted:
    request: UploadRequest
    job: UploadJob
    reply_topic: str
    traceparent: str | None


@dataclass(frozen=True)
class Rejected:
    outputs: list[Output]
    code: RequestErrorCode
    request_id: str | None


def decide(source: RequestMessage, policy: Policy) -> Accepted | Rejected:
    """Decode one message and apply the policy. Never raises for any input."""
    received = datetime.now(UTC)
    traceparent = valid_traceparent(header(source.headers, "traceparent"))
    try:
        request = decode_request(source.value, max_files_per_request=policy.max_files_per_request)
    except RequestDecodeError as exc:
        outputs = [dlq_output(policy.dlq_topic, source, exc.code, exc.message)]
        if exc.request_id is not None and exc.user_id is not None:
            result = rejected_result(
                request_id=exc.request_id,
                user_id=exc.user_id,
                bucket=policy.default_bucket,
                code=exc.code,
                message=exc.message,
                received_at=received,
            )
            outputs.insert(0, result_output(policy.results_topic, result, traceparent))
        return Rejected(outputs, exc.code, exc.request_id)

    reply_ok = request.reply_topic is None or request.reply_topic in policy.allowed_reply_topics
    reply_topic = request.reply_topic if reply_ok and request.reply_topic else policy.results_topic
    # Only null means "the default": an empty string is a bucket name, and not an allowed one.
    bucket = policy.default_bucket if request.bucket is None else request.bucket
    problem: tuple[RequestErrorCode, str] | None = None
    if bucket not in policy.allowed_buckets:
        problem = (RequestErrorCode.BUCKET_NOT_ALLOWED, "bucket: not in the allowed buckets")
    elif not reply_ok:
        problem = (RequestErrorCode.REPLY_TOPIC_NOT_ALLOWED, "reply_topic: not an allowed topic")
    if problem is not None:
        code, message = problem
        result = rejected_result(
            request_id=request.request_id,
            user_id=request.user_id,
            bucket=policy.default_bucket,
            code=code,
            message=message,
            request=request,
            received_at=received,
        )
        outputs = [
            result_output(reply_topic, result, traceparent),
            dlq_output(policy.dlq_topic, source, code, message),
        ]
        return Rejected(outputs, code, request.request_id)

    job = UploadJob(
        request_id=request.request_id,
        user_id=request.user_id,
        file_category=request.file_category,
        bucket=bucket,
        files=dict(request.files),
        max_workers=request.max_workers or policy.default_max_workers,
    )
    return Accepted(request, job, reply_topic, traceparent)


def _crashed(job: UploadJob, exc: BaseException) -> UploadOutcome:
    now = datetime.now(UTC)
    failure = FileFailure.of(
        FileFailureCode.INTERNAL_ERROR, f"upload engine error: {type(exc).__name__}"
    )
    return UploadOutcome(
        failures=dict.fromkeys(job.files, failure), started_at=now, finished_at=now
    )


class Dispatcher:
    """Turns messages into ledger records; runs accepted ones on the engine."""

    def __init__(
        self,
        *,
        policy: Policy,
        engine: Engine,
        collector: Collector,
        slots: Slots,
        metrics: Metrics,
        wake: Callable[[], None],
        on_consumed: Callable[[str, list[BlobRef]], None] | None = None,
        timeline: Timeline | None = None,
    ) -> None:
        self._timeline = timeline or Timeline.off()
        self._policy = policy
        self._on_consumed = on_consumed
        self._engine = engine
        self._collector = collector
        self._slots = slots
        self._metrics = metrics
        self._wake = wake

    def dispatch(self, record: Record, source: RequestMessage) -> None:
        """Handle one tracked message. Holds a slot on entry; releases it when done."""
        try:
            with self._timeline.section(Cpu.DECODE):
                decision = decide(source, self._policy)
        except Exception as exc:  # decide is total; this is the last line of defence
            log.exception("could not decide on a message", extra={"offset": source.offset})
            decision = Rejected(
                [
                    dlq_output(
                        self._policy.dlq_topic,
                        source,
                        RequestErrorCode.INVALID_REQUEST,
                        f"consumer error: {type(exc).__name__}",
                    )
                ],
                RequestErrorCode.INVALID_REQUEST,
                None,
            )
        if isinstance(decision, Rejected):
            self._rejected(record, decision)
            return
        gevent.spawn(self._upload, record, decision)
        self._timeline.admitted(record.topic, record.partition, record.offset)

    def _rejected(self, record: Record, decision: Rejected) -> None:
        log.info(
            "request rejected",
            extra={
                "request_id": decision.request_id,
                "code": decision.code.value,
                "partition": record.partition,
                "offset": record.offset,
            },
        )
        code = decision.code.value
        record.on_commit.append(lambda: self._metrics.dead_letter(code))
        if any(o.kind is OutputKind.RESULT for o in decision.outputs):
            record.on_commit.append(lambda: self._metrics.request_done("failed", code))
        self._collector.complete(record, decision.outputs)
        self._slots.release()
        self._wake()

    def _upload(self, record: Record, accepted: Accepted) -> None:
        job = accepted.job
        try:
            with self._metrics.latency.time():
                outcome = self._engine.upload(job)
            with self._timeline.section(Cpu.ENCODE):
                outputs = self._result(record, accepted, outcome)
        except Exception as exc:  # the engine promises not to raise; a request is never lost
            log.exception("upload failed unexpectedly", extra={"request_id": job.request_id})
            outputs = self._result(record, accepted, _crashed(job, exc))
        finally:
            self._slots.release()
        self._collector.complete(record, outputs)
        self._wake()

    def _result(self, record: Record, accepted: Accepted, outcome: UploadOutcome) -> list[Output]:
        uploaded = time.time()  # the engine has just returned
        result = result_for_request(accepted.request, bucket=accepted.job.bucket, outcome=outcome)
        status = result.status.value
        record.on_commit.append(lambda: self._count(outcome, status))
        if self._on_consumed is not None:  # staged blobs of stored files, once committed
            files = accepted.request.files
            # A blob shared with a failed file stays: its replay needs it.
            kept = {files[t].uri for t in outcome.failures if t in files}
            consumed = [
                files[t] for t in outcome.objects if t in files and files[t].uri not in kept
            ]
            on_consumed, user_id = self._on_consumed, accepted.request.user_id
            record.on_commit.append(lambda: on_consumed(user_id, consumed))
        self._log_outcome(outcome, status, accepted.job.request_id)
        output = result_output(accepted.reply_topic, result, accepted.traceparent)
        if self._timeline.enabled:
            self._timeline.counted(len(accepted.job.files))
            stamps = self._timeline.header(
                record.topic, record.partition, record.offset, uploaded=uploaded
            )
            output = replace(output, headers=[*output.headers, (TIMELINE_HEADER, stamps)])
        return [output]

    def _count(self, outcome: UploadOutcome, status: str) -> None:
        self._metrics.request_done(status)
        for obj in outcome.objects.values():
            self._metrics.file_done("uploaded", size=obj.size)
        for failure in outcome.failures.values():
            self._metrics.file_done("failed", failure.code.value)

    @staticmethod
    def _log_outcome(outcome: UploadOutcome, status: str, request_id: str) -> None:
        log.info(
            "request %s: %d uploaded, %d failed",
            status,
            len(outcome.objects),
            len(outcome.failures),
            extra={"request_id": request_id},
        )

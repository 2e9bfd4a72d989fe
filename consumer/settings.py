"""The consumer service's settings, read once from the environment and validated at start-up.

Names follow docs/contract/operating-interface.md: the ecosystem's own variables for
connections (`KAFKA_*`, boto3's `AWS_*`, which boto3 reads itself) and `UPLOAD_STREAM_*`
for everything else. Shared groups are defined once below this package and inherited here:
the topics and the fetch wait (`kafka_config`); the engine's are `EngineSettings`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kafka_config.fetch import FetchWait
from kafka_config.topics import Topics
from schemas.fields import DEFAULT_MAX_FILES_PER_REQUEST
from upload_engine.settings import CommaList, split_commas

_CONFIG = SettingsConfigDict(env_prefix="UPLOAD_STREAM_", frozen=True, extra="ignore")


class ProcessingGuarantee(StrEnum):
    EXACTLY_ONCE = "exactly_once"
    AT_LEAST_ONCE = "at_least_once"


class RequestLimits(BaseSettings):
    """The consumer's limit on a request's size; the ops commands decode the DLQ with it."""

    model_config = _CONFIG

    max_files_per_request: int = Field(
        default=DEFAULT_MAX_FILES_PER_REQUEST, ge=1, le=10_000, description="More: too_many_files."
    )


class ConsumerSettings(Topics, FetchWait, RequestLimits):
    """Everything `upload-stream consume` reads besides the engine and the connection."""

    model_config = _CONFIG

    group_id: str = Field(default="upload-stream", description="Consumer group id.")
    allowed_reply_topics: CommaList = Field(
        default_factory=list, description="Reply topics a request may name; default: results."
    )
    processing_guarantee: ProcessingGuarantee = Field(
        default=ProcessingGuarantee.EXACTLY_ONCE,
        description="exactly_once: results and offsets in one transaction per checkpoint; "
        "at_least_once: idempotent producer, offsets committed after results are acked.",
    )
    metrics_port: int = Field(
        default=9464, ge=0, le=65535, description="/metrics, /healthz, /readyz; 0 = off."
    )
    log_format: Literal["json", "text"] = Field(default="json", description="Log lines: json|text.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="DEBUG, INFO, WARNING or ERROR."
    )
    max_in_flight_requests: int = Field(
        default=256,
        ge=1,
        description="Requests being uploaded at once; when full, partitions are paused.",
    )
    delete_staged_after_commit: bool = Field(
        default=True,
        description="Delete a file's staged blob once its result is committed (failed files "
        "keep theirs for replay). A delete that fails is logged and counted; the sweep gets "
        "it later.",
    )
    staging_cleanup_queue: int = Field(
        default=10_000,
        ge=1,
        description="Staged blobs waiting to be deleted; when full, more are left for the sweep "
        "(a result is never held back).",
    )
    checkpoint_interval_s: float = Field(
        default=0.5,
        gt=0,
        description="While requests are in flight, results are batched and committed at most "
        "this often; with none in flight, at once.",
    )
    drain_timeout_s: float = Field(
        default=30.0, ge=0, description="On SIGTERM, how long in-flight uploads may finish."
    )
    revoke_timeout_s: float = Field(
        default=10.0,
        ge=0,
        description="On a rebalance, how long in-flight uploads of revoked partitions may "
        "finish before they are dropped (the new owner redoes them).",
    )
    transactional_id: str | None = Field(
        default=None,
        description="Default: {group_id}-{hostname}-{pid}. Set it to a name stable per "
        "replica (a StatefulSet pod name) so a restart fences its own zombie at once.",
    )
    transaction_timeout_ms: int = Field(
        default=60_000,
        ge=1000,
        description="Broker aborts a transaction left open this long by a dead process; "
        "until then read_committed readers of its partitions wait.",
    )
    txn_retry_timeout_s: float = Field(
        default=60.0, gt=0, description="How long retriable transaction errors are retried."
    )
    txn_call_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Timeout of one transactional call (send offsets, commit, abort); a "
        "timed-out call is retried. One still blocked 10 s past it is wedged (docs/runbook.md): "
        "its producer is replaced in-process.",
    )
    max_poll_interval_ms: int = Field(
        default=300_000, ge=1000, description="librdkafka max.poll.interval.ms."
    )
    session_timeout_ms: int = Field(
        default=45_000, ge=1000, description="librdkafka session.timeout.ms."
    )
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest", description="Where a group with no committed offset starts."
    )
    poll_idle_s: float = Field(
        default=0.01,
        gt=0,
        le=1,
        description="Sleep between non-blocking polls while requests are held (in flight, "
        "not yet committed); with none held the consumer waits for the next record in a "
        "threadpool thread instead, so an idle consumer takes a request as soon as it arrives "
        "(the hub never blocks).",
    )
    linger_ms: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="librdkafka linger.ms of the results producer: a result waits this long "
        "for others to share its produce request (fewer requests under load, added latency "
        "when alone).",
    )
    timeline: bool = Field(
        default=False,
        description="Benchmarks: stamp each result with the consumer's stage times (a "
        "`timeline` header) and account CPU per stage, logged on SIGUSR1 and at shutdown "
        "(bench/e2e_bench.py reads both).",
    )
    stats_interval_ms: int = Field(
        default=5000, ge=0, description="librdkafka statistics (consumer lag metric); 0 = off."
    )

    _split = field_validator("allowed_reply_topics", mode="before")(split_commas)

    @model_validator(mode="after")
    def _results_topic_is_allowed(self) -> ConsumerSettings:
        if not self.allowed_reply_topics:
            object.__setattr__(self, "allowed_reply_topics", [self.results_topic])
        return self

"""Settings, read once from the environment and validated at start-up.

Names follow the operating-interface document: the ecosystem's own variables for
connections (`KAFKA_*`, boto3's `AWS_*`, which boto3 reads itself) and `UPLOAD_STREAM_*`
for everything else. Secrets are `SecretStr`, so printing settings masks them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.fields import DEFAULT_MAX_FILES_PER_REQUEST
from upload_engine.settings import CommaList, split_commas


class ProcessingGuarantee(StrEnum):
    EXACTLY_ONCE = "exactly_once"
    AT_LEAST_ONCE = "at_least_once"


class ConsumerSettings(BaseSettings):
    """Everything `upload-stream consume` reads besides the engine and the connection."""

    model_config = SettingsConfigDict(env_prefix="UPLOAD_STREAM_", frozen=True, extra="ignore")

    group_id: str = Field(default="upload-stream", description="Consumer group id.")
    requests_topic: str = Field(default="uploads.requests", description="Topic read.")
    results_topic: str = Field(default="uploads.results", description="Default reply topic.")
    dlq_topic: str = Field(default="uploads.requests.dlq", description="Dead-letter topic.")
    allowed_reply_topics: CommaList = Field(
        default_factory=list, description="Reply topics a request may name; default: results."
    )
    max_files_per_request: int = Field(
        default=DEFAULT_MAX_FILES_PER_REQUEST, ge=1, le=10_000, description="More: too_many_files."
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
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    max_in_flight_requests: int = Field(
        default=256,
        ge=1,
        description="Requests being uploaded at once; when full, partitions are paused.",
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
        "timed-out call is retried. One still blocked 10 s past it is wedged (librdkafka "
        "#5456): its producer is replaced in-process.",
    )
    max_poll_interval_ms: int = Field(
        default=300_000, ge=1000, description="librdkafka max.poll.interval.ms."
    )
    session_timeout_ms: int = Field(
        default=45_000, ge=1000, description="librdkafka session.timeout.ms."
    )
    fetch_wait_max_ms: int = Field(default=500, ge=0, description="librdkafka fetch.wait.max.ms.")
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest", description="Where a group with no committed offset starts."
    )
    poll_idle_s: float = Field(
        default=0.01,
        gt=0,
        le=1,
        description="Sleep between non-blocking polls when idle (the hub never blocks).",
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

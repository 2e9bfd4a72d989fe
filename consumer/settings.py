"""Settings, read once from the environment and validated at start-up.

Names follow the operating-interface document: the ecosystem's own variables for
connections (`KAFKA_*`, boto3's `AWS_*`, which boto3 reads itself) and `UPLOAD_STREAM_*`
for everything else. Secrets are `SecretStr`, so printing settings masks them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.fields import DEFAULT_MAX_FILES_PER_REQUEST, MAX_WORKERS_LIMIT

CommaList = Annotated[list[str], NoDecode]


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class ProcessingGuarantee(StrEnum):
    EXACTLY_ONCE = "exactly_once"
    AT_LEAST_ONCE = "at_least_once"


class ServerSideEncryption(StrEnum):
    AES256 = "AES256"
    KMS = "aws:kms"
    NONE = "none"


class KafkaConnection(BaseSettings):
    """How to reach the brokers; shared by the consumer, the producer library and ops tools."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", frozen=True, extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: str | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None

    def librdkafka(self) -> dict[str, str]:
        """librdkafka's dotted keys; the only place the password is unmasked."""
        config = {"bootstrap.servers": self.bootstrap_servers}
        optional = {
            "security.protocol": self.security_protocol,
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password.get_secret_value() if self.sasl_password else None,
            "ssl.ca.location": self.ssl_ca_location,
        }
        config.update({k: v for k, v in optional.items() if v})
        return config


class EngineSettings(BaseSettings):
    """What the upload engine needs; also all that `AWSService` needs in direct mode."""

    model_config = SettingsConfigDict(env_prefix="UPLOAD_STREAM_", frozen=True, extra="ignore")

    default_bucket: str | None = Field(
        default=None, description="Destination when a request names none (required to consume)."
    )
    allowed_buckets: CommaList = Field(
        default_factory=list, description="Destinations a request may name; default: the default."
    )
    staging_allowlist: CommaList = Field(
        default_factory=list,
        description="Roots blobs may be read from: `s3://bucket/prefix/` and `file:///dir/`.",
    )
    max_concurrency: int = Field(default=64, ge=1, le=1024)
    default_max_workers: int = Field(default=5, ge=1, le=MAX_WORKERS_LIMIT)
    max_file_bytes: int = Field(default=5 * 1024**3, ge=0)
    allowed_content_types: CommaList = Field(
        default_factory=list, description="MIME types or `type/*`; empty = any."
    )
    sse: ServerSideEncryption = ServerSideEncryption.AES256
    sse_kms_key_id: str | None = None
    multipart_threshold_bytes: int = Field(default=16 * 1024**2, ge=5 * 1024**2)
    multipart_part_bytes: int = Field(default=8 * 1024**2, ge=5 * 1024**2)
    retry_max_attempts: int = Field(default=6, ge=1, le=20)
    retry_base_delay_s: float = Field(default=0.1, gt=0)
    retry_max_delay_s: float = Field(default=5.0, gt=0)
    s3_connect_timeout_s: float = Field(default=5.0, gt=0)
    s3_read_timeout_s: float = Field(default=30.0, gt=0)
    s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    s3_payload_signing: Literal["auto", "always"] = Field(
        default="auto",
        description="SHA-256 of each request body in the SigV4 signature: always, or auto = "
        "only over plain HTTP. Over HTTPS each object body already carries a signed SHA-256 "
        "checksum header that S3 verifies, so signing the body too costs a second hash pass "
        "(~5 ms CPU per 8 MiB part) for nothing.",
    )
    s3_fast_put: bool = Field(
        default=True,
        description="Single PUTs (files up to the multipart threshold) after the first one "
        "to each bucket skip botocore's request pipeline: signed by botocore's own SigV4 "
        "signer to the URL botocore used, ~0.5 ms instead of ~1.3 ms of CPU per PUT. Turn "
        "off to send every request through botocore (to rule this path out when debugging, "
        "or with botocore hooks or plugins that change PutObject requests).",
    )
    executor: Literal["auto", "gevent", "threads"] = Field(
        default="auto",
        description="How files run concurrently: greenlets (needs gevent monkey-patching), "
        "OS threads, or auto: greenlets exactly when the socket module is patched.",
    )

    _split = field_validator(
        "allowed_buckets", "staging_allowlist", "allowed_content_types", mode="before"
    )(_split_commas)

    @field_validator("staging_allowlist")
    @classmethod
    def _staging_roots_well_formed(cls, value: list[str]) -> list[str]:
        for root in value:
            if not (root.startswith("s3://") or root.startswith("file:///")):
                raise ValueError(f"staging root must start with s3:// or file:///: {root[:80]!r}")
        return value

    @model_validator(mode="after")
    def _default_bucket_is_allowed(self) -> EngineSettings:
        if self.default_bucket and not self.allowed_buckets:
            object.__setattr__(self, "allowed_buckets", [self.default_bucket])
        return self


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

    _split = field_validator("allowed_reply_topics", mode="before")(_split_commas)

    @model_validator(mode="after")
    def _results_topic_is_allowed(self) -> ConsumerSettings:
        if not self.allowed_reply_topics:
            object.__setattr__(self, "allowed_reply_topics", [self.results_topic])
        return self

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

    _split = field_validator(
        "allowed_buckets", "staging_allowlist", "allowed_content_types", mode="before"
    )(_split_commas)

    @model_validator(mode="after")
    def _default_bucket_is_allowed(self) -> EngineSettings:
        if self.default_bucket and not self.allowed_buckets:
            object.__setattr__(self, "allowed_buckets", [self.default_bucket])
        return self


class ConsumerSettings(BaseSettings):
    """Everything `upload-stream consume` reads besides the engine and the connection."""

    model_config = SettingsConfigDict(env_prefix="UPLOAD_STREAM_", frozen=True, extra="ignore")

    group_id: str = "upload-stream"
    requests_topic: str = "uploads.requests"
    results_topic: str = "uploads.results"
    dlq_topic: str = "uploads.requests.dlq"
    allowed_reply_topics: CommaList = Field(default_factory=list)
    max_files_per_request: int = Field(default=DEFAULT_MAX_FILES_PER_REQUEST, ge=1, le=10_000)
    processing_guarantee: ProcessingGuarantee = ProcessingGuarantee.EXACTLY_ONCE
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    log_format: Literal["json", "text"] = "json"
    max_in_flight_requests: int = Field(default=256, ge=1)
    checkpoint_interval_s: float = Field(default=0.5, gt=0)
    drain_timeout_s: float = Field(default=30.0, ge=0)
    transactional_id: str | None = Field(
        default=None, description="Default: derived from group id and host so restarts fence."
    )

    _split = field_validator("allowed_reply_topics", mode="before")(_split_commas)

    @model_validator(mode="after")
    def _results_topic_is_allowed(self) -> ConsumerSettings:
        if not self.allowed_reply_topics:
            object.__setattr__(self, "allowed_reply_topics", [self.results_topic])
        return self

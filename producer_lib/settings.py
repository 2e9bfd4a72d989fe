"""Producer-side settings, read from `UPLOAD_STREAM_*` (connection: `KAFKA_*`, `AWS_*`).

Topic names share their variables with the consumer, so one environment configures both
ends. The staging target is the producer's own knob; when unset it falls back to the first
root of the consumer's `UPLOAD_STREAM_STAGING_ALLOWLIST`, which is where the consumer will
look anyway.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.fields import TOPIC_PATTERN
from upload_engine.settings import CommaList, split_commas


class ProducerSettings(BaseSettings):
    """Every knob of the producer library; validated when built."""

    model_config = SettingsConfigDict(env_prefix="UPLOAD_STREAM_", frozen=True, extra="ignore")

    staging_uri: str | None = Field(
        default=None,
        description="Where blobs are staged: `s3://bucket/prefix/` or `file:///dir/`. "
        "Default: the first root of UPLOAD_STREAM_STAGING_ALLOWLIST.",
    )
    staging_allowlist: CommaList = Field(default_factory=list)
    requests_topic: str = Field(default="uploads.requests", pattern=TOPIC_PATTERN)
    results_topic: str = Field(
        default="uploads.results",
        pattern=TOPIC_PATTERN,
        description="Reply topic read by UploadClient and ResultReader.",
    )
    publish_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="How long a publish may wait for the broker's acknowledgement "
        "(librdkafka message.timeout.ms); past it, PublishError.",
    )
    reply_timeout_s: float = Field(
        default=30.0, gt=0, description="UploadClient.upload's default wait for the result."
    )
    staging_workers: int = Field(
        default=4, ge=1, le=64, description="Files of one call staged at once."
    )
    spool_memory_bytes: int = Field(
        default=1024 * 1024,
        ge=0,
        le=64 * 1024 * 1024,
        description="S3 staging: a blob is spooled in memory up to this size, then to a "
        "temporary file, so peak memory stays bounded whatever the file size.",
    )
    fetch_wait_max_ms: int = Field(
        default=100, ge=1, le=5000, description="Reply consumer latency vs. broker load."
    )

    _split = field_validator("staging_allowlist", mode="before")(split_commas)

    @model_validator(mode="after")
    def _staging_default(self) -> ProducerSettings:
        if not self.staging_uri and self.staging_allowlist:
            object.__setattr__(self, "staging_uri", self.staging_allowlist[0])
        return self

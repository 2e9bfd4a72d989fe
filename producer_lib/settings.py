"""Producer-side settings, read from `UPLOAD_STREAM_*` (connection: `KAFKA_*`, `AWS_*`).

The topic names, the fetch wait and the staging roots are the consumer's own definitions
(inherited from `kafka_config` and `upload_engine.settings`), so one environment
configures both ends. The staging target is the producer's own knob; when unset it falls
back to the first root of `UPLOAD_STREAM_STAGING_ALLOWLIST`, which is where the consumer
will look anyway.
"""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from kafka_config.fetch import FetchWait
from kafka_config.topics import RequestsTopic, ResultsTopic
from upload_engine.settings import StagingRoots


class ProducerSettings(RequestsTopic, ResultsTopic, FetchWait, StagingRoots):
    """Every knob of the producer library; validated when built."""

    model_config = SettingsConfigDict(env_prefix="UPLOAD_STREAM_", frozen=True, extra="ignore")

    staging_uri: str | None = Field(
        default=None,
        description="Where blobs are staged: `s3://bucket/prefix/` or `file:///dir/`. "
        "Default: the first root of UPLOAD_STREAM_STAGING_ALLOWLIST.",
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

    @model_validator(mode="after")
    def _staging_default(self) -> ProducerSettings:
        if not self.staging_uri and self.staging_allowlist:
            object.__setattr__(self, "staging_uri", self.staging_allowlist[0])
        return self

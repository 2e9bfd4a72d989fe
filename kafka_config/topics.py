"""Topic names (`UPLOAD_STREAM_*_TOPIC`): one definition, read by the consumer, the producer
library and the ops commands, so one environment configures every side.

One group per topic, so a command builds only the names it reads: a bad dead-letter topic
name does not stop `upload-stream submit`.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.fields import TOPIC_PATTERN

_CONFIG = SettingsConfigDict(env_prefix="UPLOAD_STREAM_", frozen=True, extra="ignore")


class RequestsTopic(BaseSettings):
    model_config = _CONFIG

    requests_topic: str = Field(
        default="uploads.requests",
        pattern=TOPIC_PATTERN,
        description="Upload requests: producers publish them, the consumer group reads them.",
    )


class ResultsTopic(BaseSettings):
    model_config = _CONFIG

    results_topic: str = Field(
        default="uploads.results",
        pattern=TOPIC_PATTERN,
        description="Results: the consumer's default reply topic, read by UploadClient, "
        "ResultReader and `upload-stream results`.",
    )


class DlqTopic(BaseSettings):
    model_config = _CONFIG

    dlq_topic: str = Field(
        default="uploads.requests.dlq",
        pattern=TOPIC_PATTERN,
        description="Dead-letter topic: events the consumer cannot process, with their reason.",
    )


class Topics(RequestsTopic, ResultsTopic, DlqTopic):
    """All three, for the readers that use all three (the consumer, `upload-stream replay`)."""

    model_config = _CONFIG

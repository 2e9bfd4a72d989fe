"""How long the broker may hold a fetch open (`UPLOAD_STREAM_FETCH_WAIT_MAX_MS`).

One knob for every long-running reader: the consumer group and UploadClient's reply router.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FetchWait(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UPLOAD_STREAM_", frozen=True, extra="ignore")

    fetch_wait_max_ms: int = Field(
        default=500,
        ge=0,
        le=300_000,
        description="librdkafka fetch.wait.max.ms of the consumer and of UploadClient's "
        "reply router: how long the broker may hold a fetch while nothing new has arrived.",
    )

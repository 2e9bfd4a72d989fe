"""How long the broker may hold a fetch open (`UPLOAD_STREAM_FETCH_WAIT_MAX_MS`).

One knob for both long-running readers, the consumer group and UploadClient's reply router,
with librdkafka's own default and range. A record that arrives while a fetch waits ends
that wait at once, so the value bounds only how often an idle reader asks, not how soon a
request or a result is seen: `python -m bench.fetch_wait_probe` measures that.
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
        "reply router: how long the broker may hold a fetch while nothing new has arrived "
        "(new records end the wait at once).",
    )

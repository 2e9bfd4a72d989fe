"""The local stack's own knobs (`upload-stream dev`, the demo, the tests)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_OFF = {"0", "false", "no", "off"}


class DevStackSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="UPLOAD_STREAM_", frozen=True, extra="ignore", env_ignore_empty=True
    )

    cache_dir: str = Field(
        default="~/.cache/upload-stream",
        description="Where the Kafka jars are cached (one folder per version), and the "
        "tests' versitygw binary (under `bin/`).",
    )
    s3_server: str = Field(
        default="moto",
        description="The local S3 server when `AWS_ENDPOINT_URL` is unset: `moto`, or "
        "`versitygw` (strict: checks signatures and checksums; built with Go into the cache "
        "on first use). Setting it together with `AWS_ENDPOINT_URL` is an error.",
    )
    docker: str = Field(
        default="auto",
        description="`0`, `false`, `no` or `off`: never start Kafka in Docker, even when a "
        "Docker engine answers (the jars are run instead).",
    )

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir).expanduser()

    @property
    def docker_allowed(self) -> bool:
        return self.docker.strip().lower() not in _OFF

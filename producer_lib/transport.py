"""How `AWSService` gets its files into S3: the `Transport` protocol and the mode switch.

`direct` (the default) uploads in this process through the upload engine; `kafka` stages
the files and asks the consumer service. `UPLOAD_STREAM_AWS_SERVICE_MODE` picks one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from producer_lib.errors import TransportUnavailableError
from schemas import UploadResult
from upload_engine.model import LocalBlob
from upload_engine.settings import EngineSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MODE_ENV = "UPLOAD_STREAM_AWS_SERVICE_MODE"
MODES = ("direct", "kafka")


class ServiceMode(BaseSettings):
    """Read as text: `transport_from_env` checks it (any case), so a bad mode is a
    `TransportUnavailableError` when the first upload needs a transport."""

    model_config = SettingsConfigDict(env_prefix="UPLOAD_STREAM_", frozen=True, extra="ignore")

    aws_service_mode: str = Field(
        default="direct",
        description="`direct`: upload in-process with the engine; `kafka`: stage, publish and "
        "wait for the result (request/reply).",
    )


class Transport(Protocol):
    def upload(
        self,
        *,
        user_id: str,
        files: Mapping[str, LocalBlob],
        file_category: str,
        bucket: str,
        max_workers: int,
    ) -> UploadResult:
        """Uploads every file (each one ends in `objects` or `failures`); never raises for
        a per-file problem. Arguments are already validated against the contract."""
        ...


def transport_from_env(
    settings: EngineSettings | None = None,
    *,
    s3_client: Callable[[], S3Client] | None = None,
    mode: str | None = None,
) -> Transport:
    """The transport `UPLOAD_STREAM_AWS_SERVICE_MODE` names (`direct` by default).

    `s3_client` is only called in direct mode (so a kafka-mode process builds no client).
    """
    chosen = (mode or ServiceMode().aws_service_mode or "direct").strip().lower()
    if chosen == "direct":
        from producer_lib.direct import DirectTransport

        return DirectTransport.shared(
            settings or EngineSettings(), s3_client() if s3_client else None
        )
    if chosen == "kafka":
        return _kafka_transport(settings)
    raise TransportUnavailableError(f"{MODE_ENV} must be one of {', '.join(MODES)}: {chosen!r:.40}")


def _kafka_transport(settings: EngineSettings | None) -> Transport:
    # Filled in by the Kafka transport's author: build it from ProducerSettings here.
    try:
        module: Any = importlib.import_module("producer_lib.kafka_transport")
    except ModuleNotFoundError as exc:
        if exc.name != "producer_lib.kafka_transport":
            raise
        raise TransportUnavailableError("kafka mode is not available") from None
    factory: Any = module.transport_from_env
    transport: Transport = factory()
    return transport

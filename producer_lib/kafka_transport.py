"""KafkaTransport: AWSService's Kafka mode (`UPLOAD_STREAM_AWS_SERVICE_MODE=kafka`).

`upload_files_concurrently` and `upload_to_s3` keep their signatures and return values;
the files are staged, published as one UploadRequest and the consumer's UploadResult is
returned. Every AWSService in the process shares one UploadClient (one producer, one
reply consumer). Raises what UploadClient raises: PublishError, ReplyChannelError,
ResultTimeout (the request was published; its id is on the error).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from producer_lib.client import UploadClient, default_client
from schemas import UploadResult

if TYPE_CHECKING:
    from upload_engine.model import LocalBlob


class KafkaTransport:
    def __init__(self, client: UploadClient | None = None, *, timeout_s: float | None = None):
        self._client = client
        self._timeout_s = timeout_s

    @property
    def client(self) -> UploadClient:
        return self._client or default_client()

    def upload(
        self,
        *,
        user_id: str,
        files: Mapping[str, LocalBlob],
        file_category: str,
        bucket: str,
        max_workers: int,
    ) -> UploadResult:
        client = self.client
        return client.upload(
            user_id,
            dict(files),
            file_category,
            max_workers,
            timeout=self._timeout_s or client.settings.reply_timeout_s,
            bucket=bucket,
        )


def transport_from_env() -> KafkaTransport:
    """The factory `producer_lib.transport.transport_from_env` calls in Kafka mode."""
    return KafkaTransport()

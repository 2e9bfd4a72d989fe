"""`DirectTransport`: AWSService's files uploaded in this process by the upload engine."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from schemas import UploadResult
from upload_engine import UploadEngine
from upload_engine.model import LocalBlob, UploadJob
from upload_engine.result import result_from_outcome
from upload_engine.s3_client import make_s3_client
from upload_engine.settings import EngineSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class DirectTransport:
    """Builds an `UploadJob` for the engine and the contract's `UploadResult` from its outcome."""

    _shared: ClassVar[dict[tuple[str, object], DirectTransport]] = {}
    _clients: ClassVar[dict[tuple[str, str | None], S3Client]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, engine: UploadEngine) -> None:
        self.engine = engine

    @classmethod
    def shared(cls, settings: EngineSettings, s3_client: S3Client | None = None) -> DirectTransport:
        """One transport (one engine, one connection pool) per settings and client for the
        whole process, so an `AWSService()` made per web request does not open new
        connections or threads each time."""
        key = (settings.model_dump_json(), s3_client)
        with cls._shared_lock:
            transport = cls._shared.get(key)
            if transport is None:
                transport = cls(UploadEngine(settings, s3_client))
                cls._shared[key] = transport
            return transport

    @classmethod
    def shared_client(cls, settings: EngineSettings) -> S3Client:
        """One boto3 client per settings and endpoint for the whole process."""
        key = (settings.model_dump_json(), os.environ.get("AWS_ENDPOINT_URL"))
        with cls._shared_lock:
            client = cls._clients.get(key)
            if client is None:
                client = make_s3_client(settings, max_pool_connections=settings.max_concurrency)
                cls._clients[key] = client
            return client

    def upload(
        self,
        *,
        user_id: str,
        files: Mapping[str, LocalBlob],
        file_category: str,
        bucket: str,
        max_workers: int,
    ) -> UploadResult:
        request_id = f"direct-{uuid.uuid4().hex}"
        job = UploadJob(
            request_id=request_id,
            user_id=user_id,
            file_category=file_category,
            bucket=bucket,
            files=dict(files),
            max_workers=max_workers,
        )
        outcome = self.engine.upload(job)
        return result_from_outcome(
            request_id=request_id,
            user_id=user_id,
            file_category=file_category,
            bucket=bucket,
            outcome=outcome,
        )

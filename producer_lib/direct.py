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
from upload_engine.scheduling import PoolFactory
from upload_engine.settings import EngineSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class DirectTransport:
    """Builds an `UploadJob` for the engine and the contract's `UploadResult` from its outcome.

    `pool_factory` makes the gevent pool each upload's files run on (AWSService passes its
    own, see `producer_lib.aws_service`)."""

    _engines: ClassVar[dict[tuple[str, str | None, object], UploadEngine]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, engine: UploadEngine, pool_factory: PoolFactory | None = None) -> None:
        self.engine = engine
        self._pool_factory = pool_factory

    @classmethod
    def shared_engine(
        cls, settings: EngineSettings, s3_client: S3Client | None = None
    ) -> UploadEngine:
        """One engine (one connection pool, one set of threads) per settings, endpoint and
        client for the whole process, so an `AWSService()` made per web request opens none
        of its own.

        Without a client, or given back the client of that engine (`AWSService.s3` as the
        service made it): the engine with a client of its own, the one that sends small
        files by the lean signed PUT (upload_engine/fast_put.py). Any other client (a mock,
        a stubbed or instrumented one) gets an engine that sends it every call."""
        base = (settings.model_dump_json(), os.environ.get("AWS_ENDPOINT_URL"))
        with cls._lock:
            own = cls._engines.get((*base, None))
            if s3_client is None or (own is not None and s3_client is own.client):
                if own is None:
                    own = cls._engines[(*base, None)] = UploadEngine(settings)
                return own
            engine = cls._engines.get((*base, s3_client))
            if engine is None:
                engine = cls._engines[(*base, s3_client)] = UploadEngine(settings, s3_client)
            return engine

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
        outcome = self.engine.upload(job, self._pool_factory)
        return result_from_outcome(
            request_id=request_id,
            user_id=user_id,
            file_category=file_category,
            bucket=bucket,
            outcome=outcome,
        )

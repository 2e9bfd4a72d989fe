"""`AWSService`: the legacy concurrent-upload API (seed guide), on top of a `Transport`.

    from producer_lib import AWSService

    urls = AWSService().upload_files_concurrently(
        user_id=request.user.pk, files=request.FILES.dict(), file_category="kyc_documents"
    )
    # {"passport": "s3://bucket/kyc_documents/user_7/passport/<sha256>.pdf", ...}

gevent: each upload's files run on a `gevent.pool.Pool(max_workers)` of greenlets, patched
or not. In a gevent application call `gevent.monkey.patch_all()` first thing in the entry
point (manage.py, wsgi.py, the gunicorn config with `worker_class = "gevent"`), before
anything imports boto3: the greenlets then upload in place. Without patching (Django's
test runner, sync workers) each greenlet hands its file to an OS thread, so uploads are
still concurrent; nothing to configure.

Tests: patch `AWSService.s3` (or assign `service.s3 = client`) and every call goes to that
client. The client the service makes itself is the engine's own, which sends small files
by a lean signed PUT after the first one to each bucket (upload_engine/fast_put.py).

Keys are content-addressed (`{category}/user_{id}/{file_type}/{sha256}{ext}`), so
`user_id`, `file_category` and each file type must match the contract's patterns
(`[A-Za-z0-9_-]{1,64}` and `[a-z0-9][a-z0-9_-]{0,62}`); anything else raises
`InvalidUploadError` before a byte is read. Streams are read from their current position.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

import gevent.pool

from producer_lib.errors import InvalidUploadError
from producer_lib.transport import Transport, transport_from_env
from schemas import UploadResult
from schemas.fields import MAX_WORKERS_LIMIT, NAME_PATTERN, USER_ID_PATTERN
from upload_engine.mime import content_type_of
from upload_engine.model import LocalBlob
from upload_engine.settings import EngineSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

_NAME = re.compile(NAME_PATTERN)
_USER = re.compile(USER_ID_PATTERN)
LEGACY_CATEGORY = "id_cards"
LEGACY_WORKERS = 4


def _job_pool(max_workers: int) -> gevent.pool.Pool:
    """The pool of one direct-mode upload's greenlets, made through this module's `gevent`:
    the seed guide's test patches `<module>.gevent` and asserts `gevent.pool.Pool` was
    called once."""
    return gevent.pool.Pool(max_workers)


def _filename(file_obj: Any) -> str | None:
    name = getattr(file_obj, "name", None)
    if not isinstance(name, str) or not name:
        return None
    return re.split(r"[/\\]", name)[-1] or None


def _as_blob(file_type: str, file_obj: Any) -> LocalBlob:
    if not callable(getattr(file_obj, "read", None)):
        raise InvalidUploadError(f"files[{file_type[:64]!r}] has no read() method")
    stream: BinaryIO = file_obj
    name = _filename(file_obj)
    return LocalBlob(
        stream=stream,
        content_type=content_type_of(getattr(file_obj, "content_type", None), filename=name),
        filename=name,
    )


def _user_id(user_id: Any) -> str:
    text = str(user_id) if isinstance(user_id, int) and not isinstance(user_id, bool) else user_id
    if not isinstance(text, str) or not _USER.fullmatch(text):
        raise InvalidUploadError(f"user_id must match {USER_ID_PATTERN}")
    return text


class AWSService:
    """Concurrent uploads of a user's files to S3; the seed guide's API, same returns.

    `bucket_name` defaults to `UPLOAD_STREAM_DEFAULT_BUCKET`; the endpoint and credentials
    are boto3's own (`AWS_ENDPOINT_URL`, ...). `settings` overrides the environment;
    `transport` replaces the mode switch (`UPLOAD_STREAM_AWS_SERVICE_MODE`).
    """

    def __init__(
        self,
        bucket_name: str | None = None,
        *,
        settings: EngineSettings | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.settings = settings or EngineSettings()
        self.bucket_name = bucket_name or self.settings.default_bucket
        self._transport = transport
        self._client: S3Client | None = None

    @property
    def s3(self) -> S3Client:
        """The boto3 client direct mode uploads with (tests may patch or assign it).

        By default the client of the engine shared per process (an AWSService made per web
        request reuses its connections), which that engine recognises as its own."""
        if self._client is None:
            from producer_lib.direct import DirectTransport

            self._client = DirectTransport.shared_engine(self.settings).client
        return self._client

    @s3.setter
    def s3(self, client: S3Client) -> None:
        self._client = client
        self._transport = None

    def _transport_now(self) -> Transport:
        if self._transport is None:
            self._transport = transport_from_env(
                self.settings, s3_client=lambda: self.s3, pool_factory=_job_pool
            )
        return self._transport

    def upload_files(
        self,
        user_id: Any,
        files: Mapping[str, Any],
        file_category: str = "general",
        bucket_name: str | None = None,
        max_workers: int = 5,
    ) -> UploadResult:
        """Uploads every non-None file; returns the full report (objects and failures)."""
        user = _user_id(user_id)
        if not _NAME.fullmatch(file_category):
            raise InvalidUploadError(f"file_category must match {NAME_PATTERN}")
        bucket = bucket_name or self.bucket_name
        if not bucket:
            raise InvalidUploadError(
                "no bucket: pass bucket_name or set UPLOAD_STREAM_DEFAULT_BUCKET"
            )
        blobs: dict[str, LocalBlob] = {}
        for file_type, file_obj in files.items():
            if not isinstance(file_type, str) or not _NAME.fullmatch(file_type):
                raise InvalidUploadError(f"each file type must match {NAME_PATTERN}")
            if file_obj is not None:
                blobs[file_type] = _as_blob(file_type, file_obj)
        if not blobs:
            raise InvalidUploadError("no files to upload (every value is None)")
        result = self._transport_now().upload(
            user_id=user,
            files=blobs,
            file_category=file_category,
            bucket=bucket,
            max_workers=min(max(1, max_workers), MAX_WORKERS_LIMIT),
        )
        for file_type, failure in result.failures.items():
            log.warning(
                "upload failed request_id=%s file_type=%s code=%s",
                result.request_id,
                file_type,
                failure.code.value,
            )
        return result

    def upload_files_concurrently(
        self,
        user_id: Any,
        files: Mapping[str, Any],
        file_category: str = "general",
        bucket_name: str | None = None,
        max_workers: int = 5,
    ) -> dict[str, str]:
        """`{file_type: "s3://bucket/key"}` for each file that was uploaded; failures are
        logged with their codes (use `upload_files` to get them)."""
        result = self.upload_files(user_id, files, file_category, bucket_name, max_workers)
        return dict(result.urls)

    def upload_to_s3(
        self,
        user_id: Any,
        image_front: Any,
        image_back: Any,
        selfie: Any,
        selfie_video: Any = None,
    ) -> dict[str, str]:
        """Legacy ID-card upload: category `id_cards`, 4 workers."""
        files = {"front": image_front, "back": image_back, "selfie": selfie}
        files["selfie_video"] = selfie_video
        return self.upload_files_concurrently(
            user_id, files, file_category=LEGACY_CATEGORY, max_workers=LEGACY_WORKERS
        )

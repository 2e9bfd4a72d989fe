"""`UploadEngine`: a job's files into S3, concurrently, each verified, each accounted for.

Library users in a gevent application must monkey-patch before anything imports boto3
or botocore, exactly once, at the very top of the entry point::

    from gevent import monkey; monkey.patch_all()   # first line of manage.py / wsgi.py
    import boto3                                    # only after

Unpatched processes work too: the engine notices (`gevent.monkey.is_module_patched
("socket")`) and its greenlets hand each file to an OS thread (see scheduling.py).
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from schemas import (
    BlobRef,
    FileFailure,
    FileFailureCode,
    InvalidKeyPartError,
    StagedOwner,
    StoredObject,
    destination_key,
)
from upload_engine.allowlist import Allowlist
from upload_engine.classify import Side, classify, safe_repr
from upload_engine.errors import EngineClosedError, FileError
from upload_engine.fast_put import FastPut
from upload_engine.gate import ContentGate, ScanObserver
from upload_engine.mime import content_type_allowed
from upload_engine.model import LocalBlob, Source, UploadJob, UploadOutcome
from upload_engine.retry import RetryPolicy
from upload_engine.s3_client import install_hooks, open_s3_client
from upload_engine.scheduling import PoolFactory, Scheduler, make_scheduler
from upload_engine.settings import EngineSettings
from upload_engine.sources import OpenedSource, open_file, open_local, open_s3
from upload_engine.uploader import Destination, Uploader
from upload_engine.verify import b64_of_hex

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)
C = FileFailureCode


class UploadEngine:
    """Uploads jobs; `upload` may be called from many greenlets (or threads) at once.

    One boto3 client (its pool sized to `max_concurrency`), one scheduler whose
    semaphore bounds files in flight over all jobs together.
    """

    def __init__(
        self,
        settings: EngineSettings,
        s3_client: S3Client | None = None,
        *,
        scan_observer: ScanObserver | None = None,
    ) -> None:
        self.settings = settings
        self._owns_client = s3_client is None
        # The lean signed PUT (fast_put.py) only on a client of our own: a caller's client
        # (a mock asserting put_object calls, a stubbed or instrumented one) sees every call.
        self.fast_put: FastPut | None = None
        if s3_client is None:
            # A file may have two requests out at once: its staged object's HEAD and the
            # type check's GET (early_read.py). A pool of one connection per file discarded
            # ~1,550 connections in one `e2e_bench --gate` run at 50 ms (each a new TCP
            # connection; against S3, a new TLS handshake too).
            s3_client, session = open_s3_client(
                settings, max_pool_connections=2 * settings.max_concurrency
            )
            if settings.s3_fast_put:
                self.fast_put = FastPut.for_client(s3_client, session.get_credentials(), settings)
        else:
            install_hooks(s3_client)
        self.client: S3Client = s3_client
        self._allow = Allowlist.parse(settings.staging_allowlist)
        self._policy = RetryPolicy.from_settings(settings)
        self.gate = ContentGate(settings, scan_observer)
        self._uploader = Uploader(s3_client, settings, self._policy, self.fast_put, self.gate)
        self._scheduler: Scheduler = make_scheduler(settings.executor, settings.max_concurrency)
        self._closed = False

    @property
    def executor_kind(self) -> str:
        return self._scheduler.kind

    def upload(self, job: UploadJob, pool_factory: PoolFactory | None = None) -> UploadOutcome:
        """Blocks until every file of the job has either a stored object or a failure.

        `pool_factory(job.max_workers)` makes the gevent pool the job's files run on
        (default `gevent.pool.Pool`)."""
        if self._closed:
            raise EngineClosedError("upload after close")
        started = datetime.now(UTC)
        done: dict[str, StoredObject | FileFailure] = {}
        reused: set[str] = set()
        tasks = [
            functools.partial(self._run_file, job, file_type, source, done, reused)
            for file_type, source in job.files.items()
        ]
        self._scheduler.run_all(tasks, max(1, job.max_workers), pool_factory)
        for file_type in job.files:
            # Only reachable if a task died of a BaseException (a killed greenlet), or if a
            # stand-in pool (a test's mock) never started it.
            done.setdefault(file_type, FileFailure.of(C.INTERNAL_ERROR, "upload did not finish"))
        return UploadOutcome(
            objects={k: v for k, v in done.items() if isinstance(v, StoredObject)},
            failures={k: v for k, v in done.items() if isinstance(v, FileFailure)},
            already_stored=frozenset(reused),
            started_at=started,
            finished_at=datetime.now(UTC),
        )

    def close(self) -> None:
        self._closed = True
        self._scheduler.close()
        if self._owns_client:
            self.client.close()
        if self.fast_put is not None:
            self.fast_put.close()

    def _run_file(
        self,
        job: UploadJob,
        file_type: str,
        source: Source,
        done: dict[str, StoredObject | FileFailure],
        reused: set[str],
    ) -> None:
        # A large file HEADs its destination first: one HEAD beside a big transfer. Small
        # ones only once their source is gone (a blob deleted after its result was
        # committed, redelivered or replayed since): a HEAD before every file halved the
        # load test's files/s (tests/reliability/test_load.py, moto).
        head_first = self._heads_first(source)
        try:
            stored = self._already_stored(job, file_type, source) if head_first else None
            if stored is not None:
                reused.add(file_type)
                done[file_type] = stored
                return
            done[file_type] = self.upload_one(job, file_type, source)
            return
        except Exception as exc:
            failure = classify(exc, Side.SOURCE if isinstance(exc, OSError) else Side.DESTINATION)
        if failure.code is C.SOURCE_NOT_FOUND and not head_first:
            try:
                stored = self._already_stored(job, file_type, source)
            except FileError:  # its rules passed a moment ago; the first failure stands
                stored = None
            if stored is not None:
                reused.add(file_type)
                done[file_type] = stored
                return
        done[file_type] = failure
        log.warning(
            "file failed request_id=%s file_type=%s code=%s message=%s",
            safe_repr(job.request_id),
            safe_repr(file_type),
            failure.code.value,
            safe_repr(failure.message, 200),
            extra={
                "request_id": job.request_id,
                "file_type": file_type,
                "code": failure.code.value,
            },
        )

    def upload_one(self, job: UploadJob, file_type: str, source: Source) -> StoredObject:
        """One file, start to finish; raises `FileError` (or anything, classified later)."""
        if not content_type_allowed(source.content_type, self.settings.allowed_content_types):
            raise FileError(
                C.CONTENT_TYPE_NOT_ALLOWED,
                f"content type {safe_repr(source.content_type, 64)} is not allowed",
            )
        if not isinstance(source, LocalBlob):
            self._check_owner(job, source)
        opened = self._open(source)
        try:
            dest = Destination(
                bucket=job.bucket,
                key=self._key(job, file_type, source, opened),
                content_type=source.content_type,
            )
            return self._uploader.upload(opened, dest)
        finally:
            opened.close()

    def _heads_first(self, source: Source) -> bool:
        return (
            self.settings.reuse_stored_objects
            and not isinstance(source, LocalBlob)
            and source.size >= self.settings.reuse_head_first_bytes
        )

    def _already_stored(
        self, job: UploadJob, file_type: str, source: Source
    ) -> StoredObject | None:
        """The destination object, when its content-addressed key already holds exactly
        the claimed bytes (size, and S3's stored full-object SHA-256); else None and the
        file goes on as usual. Asked once the source turned out to be gone, so a staged blob
        deleted after its result was committed is never needed again, and before reading a
        large source, so a document sent twice is not transferred again. The request's own
        rules (content type, size limit, allow-list, staging scope) still apply first."""
        if (
            not self.settings.reuse_stored_objects
            or isinstance(source, LocalBlob)
            or not content_type_allowed(source.content_type, self.settings.allowed_content_types)
            or source.size > self.settings.max_file_bytes
        ):
            return None
        self._check_owner(job, source)
        try:
            key = destination_key(
                file_category=job.file_category,
                user_id=job.user_id,
                file_type=file_type,
                sha256=source.sha256,
                filename=source.filename,
                content_type=source.content_type,
            )
            head = self.client.head_object(Bucket=job.bucket, Key=key, ChecksumMode="ENABLED")
        except Exception:  # absent, denied, unreachable: the usual path decides
            return None
        if int(head.get("ContentLength", -1)) != source.size or head.get(
            "ChecksumSHA256"
        ) != b64_of_hex(source.sha256):
            return None
        return StoredObject(
            bucket=job.bucket,
            key=key,
            size=source.size,
            sha256=source.sha256,
            content_type=str(head.get("ContentType") or source.content_type),
            etag=str(head.get("ETag", "")).strip('"'),
            version_id=head.get("VersionId"),
        )

    def _check_owner(self, job: UploadJob, source: BlobRef) -> None:
        """A staged blob in another user's staging scope is never read (nor deleted by the
        consumer): schemas/staging_scope.py. Outside the allow-list is a problem too."""
        if self._allow.owner(source.uri, job.user_id) is StagedOwner.OTHER:
            raise FileError(C.SOURCE_NOT_ALLOWED, "the staged blob is in another user's scope")

    def _open(self, source: Source) -> OpenedSource:
        max_bytes = self.settings.max_file_bytes
        if isinstance(source, LocalBlob):
            return open_local(
                source, max_bytes=max_bytes, spool_bytes=self.settings.multipart_threshold_bytes
            )
        if source.size > max_bytes:
            raise FileError(
                C.TOO_LARGE, f"claimed {source.size} bytes, max_file_bytes is {max_bytes}"
            )
        if source.uri.startswith("s3://"):
            return open_s3(source, self._allow, self.client, self._policy, self.gate.reads)
        if source.uri.startswith("file://"):
            return open_file(source, self._allow)
        raise FileError(C.SOURCE_NOT_ALLOWED, "unsupported URI scheme")

    @staticmethod
    def _key(job: UploadJob, file_type: str, source: Source, opened: OpenedSource) -> str:
        try:
            return destination_key(
                file_category=job.file_category,
                user_id=job.user_id,
                file_type=file_type,
                sha256=opened.sha256,
                filename=source.filename,
                content_type=source.content_type,
            )
        except InvalidKeyPartError as exc:
            # The consumer and AWSService validate these first; reaching here is a bug.
            raise FileError(C.INTERNAL_ERROR, f"invalid destination key part: {exc}") from None

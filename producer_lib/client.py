"""UploadClient: stage files, publish one request, wait for its result (request/reply).

    with UploadClient() as client:
        result = client.upload(user_id=42, files={"passport": f}, file_category="kyc")

Safe to share across threads and greenlets: every call publishes through one producer and
waits on one shared ReplyRouter. Staged blobs of a request that could not be published are
removed before the error reaches the caller; those of a published request belong to the
consumer from then on (a replay may need them), so expire them with a bucket lifecycle
rule or directory sweep.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from producer_lib.builder import build_request, check_names, new_request_id
from producer_lib.errors import InvalidUploadError, ProducerConfigError
from producer_lib.settings import ProducerSettings
from producer_lib.staging import BlobSource, Stager, delete_quietly, stager_from_uri
from schemas import BlobRef, UploadRequest, UploadResult
from schemas.fields import MAX_WORKERS_LIMIT
from upload_engine.model import LocalBlob

if TYPE_CHECKING:
    # Not at run time: they import confluent_kafka, loaded only once Kafka is used.
    from producer_lib.publisher import RequestPublisher
    from producer_lib.reply_router import ReplyRouter, Waiter

# A BlobRef is already staged (passed through); a LocalBlob carries its own content type
# and filename (AWSService's Kafka mode).
FileSource = BlobSource | BlobRef | LocalBlob
FilesArg = Mapping[str, FileSource | None]


@dataclass(frozen=True)
class UploadSpec:
    """One request of a batch (`UploadClient.submit_batch`)."""

    user_id: Any
    files: FilesArg
    file_category: str = "general"
    max_workers: int | None = None
    bucket: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


class PendingUpload:
    """A published request; `result()` waits for its UploadResult (when tracked)."""

    def __init__(self, request: UploadRequest, router: ReplyRouter | None, waiter: Waiter | None):
        self.request = request
        self._router = router
        self._waiter = waiter

    @property
    def request_id(self) -> str:
        return self.request.request_id

    def result(self, timeout: float = 30.0) -> UploadResult:
        """The result, or ResultTimeout (carrying request_id) after `timeout` seconds."""
        if self._router is None or self._waiter is None:
            raise ValueError("this upload was submitted with track=False")
        return self._router.wait(self._waiter, timeout)

    def cancel(self) -> None:
        """Stop waiting (the request stays published)."""
        if self._router is not None and self._waiter is not None:
            self._router.forget(self._waiter)


class UploadClient:
    def __init__(
        self,
        settings: ProducerSettings | None = None,
        *,
        kafka: Mapping[str, str] | None = None,
        stager: Stager | None = None,
        publisher: RequestPublisher | None = None,
        router: ReplyRouter | None = None,
    ) -> None:
        self.settings = settings or ProducerSettings()
        self._kafka = kafka
        self._stager = stager
        self._publisher = publisher
        self._router = router
        self._lock = threading.Lock()

    # -- the parts, built on first use so a submit-only caller never opens a consumer --

    @property
    def stager(self) -> Stager:
        with self._lock:
            if self._stager is None:
                if not self.settings.staging_uri:
                    raise ProducerConfigError(
                        "no staging area: set UPLOAD_STREAM_STAGING_URI (s3://bucket/prefix/ "
                        "or file:///dir/)"
                    )
                self._stager = stager_from_uri(
                    self.settings.staging_uri,
                    spool_memory_bytes=self.settings.spool_memory_bytes,
                )
            return self._stager

    @property
    def publisher(self) -> RequestPublisher:
        with self._lock:
            if self._publisher is None:
                # Imported here: confluent_kafka loads when a request is first published.
                from producer_lib.publisher import RequestPublisher

                self._publisher = RequestPublisher(
                    self._kafka,
                    topic=self.settings.requests_topic,
                    timeout_s=self.settings.publish_timeout_s,
                )
            return self._publisher

    @property
    def router(self) -> ReplyRouter:
        with self._lock:
            if self._router is None:
                from producer_lib.reply_router import ReplyRouter

                self._router = ReplyRouter(
                    self._kafka,
                    topic=self.settings.results_topic,
                    fetch_wait_max_ms=self.settings.fetch_wait_max_ms,
                    start_timeout_s=self.settings.publish_timeout_s,
                )
            return self._router

    # -- the API --

    def upload(
        self,
        user_id: Any,
        files: FilesArg,
        file_category: str = "general",
        max_workers: int | None = None,
        timeout: float = 30.0,
        *,
        bucket: str | None = None,
        metadata: Mapping[str, str] | None = None,
        traceparent: str | None = None,
    ) -> UploadResult:
        """Stage, publish, and return the request's UploadResult.

        Raises InvalidUploadError (bad names, no files), StagingError, PublishError (nothing
        left staged), ReplyChannelError, or ResultTimeout (published; `.request_id`).
        """
        spec = UploadSpec(user_id, files, file_category, max_workers, bucket, metadata or {})
        (pending,) = self.submit_batch([spec], traceparent=traceparent, track=True)
        return pending.result(timeout)

    def submit(
        self,
        user_id: Any,
        files: FilesArg,
        file_category: str = "general",
        max_workers: int | None = None,
        *,
        bucket: str | None = None,
        metadata: Mapping[str, str] | None = None,
        traceparent: str | None = None,
        track: bool = False,
    ) -> PendingUpload:
        """Stage and publish without waiting; `track=True` lets `.result()` wait later."""
        spec = UploadSpec(user_id, files, file_category, max_workers, bucket, metadata or {})
        (pending,) = self.submit_batch([spec], traceparent=traceparent, track=track)
        return pending

    def submit_batch(
        self,
        specs: Sequence[UploadSpec],
        *,
        traceparent: str | None = None,
        track: bool = False,
    ) -> list[PendingUpload]:
        """Stage every spec's files, then publish all requests in one producer batch."""
        for spec in specs:
            check_names(spec.user_id, spec.file_category, _present(spec.files))
        router = self.router if track else None
        if router is not None:
            router.start()  # before staging: a dead broker fails here, leaving nothing
        requests: list[UploadRequest] = []
        staged: dict[str, list[BlobRef]] = {}
        try:
            for spec in specs:
                request_id = new_request_id()
                refs, ours = self._stage(spec.user_id, spec.files)
                staged[request_id] = ours
                requests.append(
                    build_request(
                        request_id=request_id,
                        user_id=spec.user_id,
                        files=refs,
                        file_category=spec.file_category,
                        max_workers=_clamp_workers(spec.max_workers),
                        bucket=spec.bucket,
                        reply_topic=None,
                        metadata=spec.metadata,
                    )
                )
            waiters = [router.expect(r.request_id) if router else None for r in requests]
        except BaseException:
            self._cleanup(staged, staged.keys())
            raise
        try:
            self.publisher.publish_batch(requests, traceparent=traceparent)
        except BaseException as exc:
            failed = getattr(exc, "request_ids", None) or staged.keys()
            self._cleanup(staged, failed)
            for waiter in waiters:
                if router is not None and waiter is not None:
                    router.forget(waiter)
            raise
        return [PendingUpload(r, router, w) for r, w in zip(requests, waiters, strict=True)]

    def _stage(self, user_id: Any, files: FilesArg) -> tuple[dict[str, BlobRef], list[BlobRef]]:
        """(every file's BlobRef, the ones staged by this call)."""
        present = {k: v for k, v in files.items() if v is not None}
        if not present:
            raise InvalidUploadError("invalid upload: files: no files given")
        refs = {k: v for k, v in present.items() if isinstance(v, BlobRef)}
        to_stage = {k: v for k, v in present.items() if not isinstance(v, BlobRef)}
        if not to_stage:
            return refs, []
        stager = self.stager
        workers = min(len(to_stage), self.settings.staging_workers)
        ours: list[BlobRef] = []
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {k: pool.submit(_stage_one, stager, v, user_id) for k, v in to_stage.items()}
            errors = []
            for file_type, future in futures.items():
                try:
                    refs[file_type] = future.result()
                    ours.append(refs[file_type])
                except Exception as exc:
                    errors.append(exc)
        if errors:
            delete_quietly(stager, ours)
            raise errors[0]
        return refs, ours

    def _cleanup(self, staged: Mapping[str, list[BlobRef]], request_ids: Any) -> None:
        refs = [ref for rid in request_ids for ref in staged.get(rid, [])]
        if refs:
            delete_quietly(self.stager, refs)

    def close(self) -> None:
        with self._lock:
            router, publisher = self._router, self._publisher
        if router is not None:
            router.close()
        if publisher is not None:
            publisher.close()

    def __enter__(self) -> UploadClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _stage_one(stager: Stager, source: BlobSource | LocalBlob, user_id: Any) -> BlobRef:
    if isinstance(source, LocalBlob):
        return stager.stage(
            source.stream,
            content_type=source.content_type,
            filename=source.filename,
            user_id=user_id,
        )
    return stager.stage(source, user_id=user_id)


def _present(files: FilesArg) -> list[str]:
    return [k for k, v in files.items() if v is not None]


def _clamp_workers(value: int | None) -> int | None:
    """A concurrency hint: callers (like the seed's `len(files)`) may ask for more than 64."""
    if value is None:
        return None
    return max(1, min(int(value), MAX_WORKERS_LIMIT))


_default: UploadClient | None = None
_default_lock = threading.Lock()


def default_client() -> UploadClient:
    """A process-wide client (one producer, one reply consumer) built from the environment."""
    global _default  # noqa: PLW0603 - one shared reply consumer per process is the design
    with _default_lock:
        if _default is None:
            _default = UploadClient()
        return _default


def close_default_client() -> None:
    """Close the process-wide client (at shutdown, or when the environment changed)."""
    global _default
    with _default_lock:
        client, _default = _default, None
    if client is not None:
        client.close()

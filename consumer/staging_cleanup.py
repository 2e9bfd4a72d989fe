"""`StagingCleanup`: deletes the staged blobs of files whose result is committed.

A file's staged copy has served its purpose once its object is stored and its result is
committed (exactly_once: the transaction that holds the result committed; at_least_once:
the broker acknowledged the result). The dispatcher hands the BlobRefs over from the
record's `on_commit`, which the ledger runs only then. Failed files keep their blobs, so a
replay can read them.

Deleting never holds a result back: `committed()` only puts the refs on a bounded queue,
and one greenlet deletes them. A full queue, a delete that fails, or a shutdown before the
queue drained leaves the blob where it is: logged, counted, and reaped later by
`upload-stream staging sweep` or the bucket's lifecycle rule. Only blobs under the staging
allow-list (the same roots the consumer reads from) and in the staging scope of the
request's own user (schemas/staging_scope.py) are ever deleted: a request naming another
user's staged key deletes nothing, and a key with no scope (legacy) is left for the sweep.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import gevent
from gevent.queue import Empty, Full, Queue

from consumer.metrics import Metrics
from schemas import BlobRef, StagedOwner
from upload_engine.allowlist import Allowlist, file_uri_path, split_s3_uri
from upload_engine.errors import FileError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

_STOP = object()


class StagingCleanup:
    def __init__(
        self,
        *,
        client: S3Client | None,
        allowlist: Allowlist,
        metrics: Metrics,
        capacity: int = 10_000,
    ) -> None:
        self._client = client
        self._allow = allowlist
        self._metrics = metrics
        self._queue: Queue[Any] = Queue(maxsize=capacity)
        self._worker: gevent.Greenlet[Any, Any] | None = None

    def start(self) -> None:
        if self._worker is None:
            self._worker = gevent.spawn(self._run)

    def committed(self, user_id: str, refs: Iterable[BlobRef]) -> None:
        """Queue the blobs of `user_id`'s committed request for deletion; never blocks,
        never raises."""
        for ref in refs:
            try:
                self._queue.put_nowait((user_id, ref))
            except Full:
                self._metrics.staged_delete("dropped")
                log.warning("staging cleanup queue full: blob left for the sweep")

    def pending(self) -> int:
        return int(self._queue.qsize())

    def close(self, timeout_s: float = 5.0) -> None:
        """Delete what is queued within `timeout_s`; what is left stays for the sweep."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        with contextlib.suppress(Full):
            self._queue.put(_STOP, timeout=timeout_s)
        worker.join(timeout_s)
        if not worker.dead:
            worker.kill(block=False)
        left = self._queue.qsize()
        if left:
            log.info("staging cleanup stopped with %d blobs left for the sweep", left)

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=1.0)
            except Empty:
                continue
            if item is _STOP:
                return
            self.delete(*item)

    def delete(self, user_id: str, ref: BlobRef) -> bool:
        """Delete one staged blob of `user_id`'s request; True when it is gone. Failures,
        refusals and legacy keys are logged and counted."""
        try:
            owner = self._allow.owner(ref.uri, user_id)
            if owner is not StagedOwner.OWN:
                self._metrics.staged_delete("refused" if owner is StagedOwner.OTHER else "legacy")
                if owner is StagedOwner.OTHER:
                    log.warning("not deleting a blob of another user's staging scope")
                return False
            if ref.uri.startswith("s3://"):
                self._delete_s3(ref)
            else:
                self._delete_file(ref)
        except FileError:
            self._metrics.staged_delete("refused")
            log.warning("not deleting a blob outside the staging allow-list")
            return False
        except Exception as exc:  # logged and counted; the sweep gets it later
            self._metrics.staged_delete("failed")
            log.warning("could not delete a staged blob: %s", type(exc).__name__)
            return False
        self._metrics.staged_delete("deleted", ref.size)
        return True

    def _delete_s3(self, ref: BlobRef) -> None:
        bucket, key = split_s3_uri(ref.uri)
        self._allow.check_s3(bucket, key)
        if self._client is None:
            raise RuntimeError("no S3 client for S3 staging")
        self._client.delete_object(Bucket=bucket, Key=key)

    def _delete_file(self, ref: BlobRef) -> None:
        path = file_uri_path(ref.uri)
        real = os.path.realpath(path)
        self._allow.root_of(real)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(real)

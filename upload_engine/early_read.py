"""The type check's GET of a copied object's head, sent alongside that object's HEAD.

A server-side copy is read only for the content gate (uploader.py); for the type check,
its first HEAD_BYTES. Sent after the HEAD, pinned to the ETag the HEAD saw, that ranged GET
is a round trip of its own, and was most of the type check's cost end to end (README, "The
content gate"). A ranged GET cannot stand in for the HEAD, since S3 returns no checksum
with a range. Sent at the same time, it cannot be pinned to an ETag not seen yet, so its
answer is kept only when its ETag equals the HEAD's: the test `IfMatch` makes on the
server. Anything else (another ETag, an error) is dropped, and the uploader reads again,
pinned, under its retry policy: the early read saves a round trip and decides nothing.

Only in a process gevent has patched, where the GET waits on its socket in a greenlet of
its own. Elsewhere each file runs in an OS thread (scheduling.py) and reads in turn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gevent

from upload_engine.content_type import HEAD_BYTES
from upload_engine.scheduling import process_is_patched

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def head_range(size: int) -> str:
    return f"bytes=0-{min(size, HEAD_BYTES) - 1}"


class EarlyRead:
    """One unpinned GET in its own greenlet; `take(etag)` waits for it. Always `cancel()`
    it afterwards."""

    def __init__(self, client: S3Client, bucket: str, key: str, byte_range: str) -> None:
        self._began = False  # the greenlet has run: the GET may be on the wire
        self._taken = False
        self._greenlet = gevent.spawn(self._get, client, bucket, key, byte_range)

    @classmethod
    def start(cls, client: S3Client, bucket: str, key: str, claimed_size: int) -> EarlyRead | None:
        if claimed_size <= 0 or not process_is_patched():
            return None
        return cls(client, bucket, key, head_range(claimed_size))

    def _get(self, client: S3Client, bucket: str, key: str, byte_range: str) -> Any:
        self._began = True
        try:
            return client.get_object(Bucket=bucket, Key=key, Range=byte_range)
        except Exception:
            # Whatever it was, the pinned read after the HEAD meets it again, with retries.
            return None

    def take(self, etag: str) -> Any | None:
        """The response's streaming body when the GET read the version whose ETag is
        `etag`; else None (and `cancel()` closes what came)."""
        response = self._greenlet.get()
        if response is None or response.get("ETag") != etag:
            return None
        self._taken = True
        return response["Body"]

    def cancel(self, *, wait: bool = True) -> None:
        """Closes whatever the GET got and `take` did not hand out. A GET already on its
        way is waited for (a kill mid-request would leave its socket open), unless the
        caller is itself being stopped (`wait=False`: killed, timed out)."""
        if not self._greenlet.ready():
            if self._began and wait:
                self._greenlet.join()
            else:  # never ran (nothing was sent), or no time to wait
                self._greenlet.kill()
        response = self._greenlet.value  # a killed greenlet's is its GreenletExit
        if isinstance(response, dict) and not self._taken:
            response["Body"].close()

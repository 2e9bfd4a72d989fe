"""The staging area: where a blob goes before its claim check (BlobRef) is published.

`stage()` reads the source once, in chunks, computing size and sha256 as it goes, so no
file is ever held in memory whole. Staged names come from a random id, never from the
caller's filename: the filename travels only as a BlobRef field, of which the consumer
uses just the extension. Given the request's user, the name is `{scope}/{random id}`
(schemas/staging_scope.py): the consumer reads and deletes it only for that user.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, Union

from producer_lib.builder import normalised_user_id
from schemas import BlobRef, staging_scope

log = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
MAX_FILENAME_CHARS = 255

# What callers may hand over: an open binary file (Django's UploadedFile included),
# bytes, or a path.
BlobSource = Union[IO[bytes], bytes, bytearray, memoryview, str, "os.PathLike[str]"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What `blob_name` makes: `{scope}/{id}`, or a bare `{id}` (no user: never deleted by the
# consumer after commit, see schemas/staging_scope.py).
BLOB_NAME = re.compile(r"(?:u[0-9a-f]{16}/)?[0-9a-f]{32}")


def blob_name(user_id: Any = None) -> str:
    """A fresh staged name below the root: `{scope}/{random id}` for `user_id` (the
    request's user, int or str), a bare random id for None."""
    blob_id = uuid.uuid4().hex
    if user_id is None:
        return blob_id
    return f"{staging_scope(normalised_user_id(user_id))}/{blob_id}"


class Stager(Protocol):
    """A staging area. Implementations: `S3Stager`, `DirStager`."""

    @property
    def root(self) -> str:
        """The staging root as a URI, e.g. `s3://staging/uploads/` (for the allow-list)."""
        ...

    def stage(
        self,
        source: BlobSource,
        *,
        content_type: str | None = None,
        filename: str | None = None,
        user_id: Any = None,
    ) -> BlobRef:
        """Stage one blob for the request of `user_id` (None: an unscoped, legacy name)."""
        ...

    def delete(self, ref: BlobRef) -> None:
        """Remove a blob this stager staged; anything else is refused silently."""
        ...


@dataclass
class Digest:
    """Size and sha256 of the bytes that went past, filled while copying."""

    size: int = 0
    sha256: str = ""


def chunks_of(source: BlobSource) -> Iterator[bytes]:
    """The source's bytes in chunks of at most CHUNK_BYTES."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source).cast("B")
        for start in range(0, len(view), CHUNK_BYTES):
            yield bytes(view[start : start + CHUNK_BYTES])
        return
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            yield from _read_chunks(handle)
        return
    django_chunks = getattr(source, "chunks", None)
    if callable(django_chunks):  # Django's File: seeks to the start itself
        for chunk in django_chunks(CHUNK_BYTES):
            yield bytes(chunk)
        return
    yield from _read_chunks(source)


def _read_chunks(handle: IO[bytes]) -> Iterator[bytes]:
    while True:
        chunk = handle.read(CHUNK_BYTES)
        if not chunk:
            return
        if not isinstance(chunk, bytes):
            raise TypeError("the file object must be opened in binary mode")
        yield chunk


def hashed(chunks: Iterable[bytes], digest: Digest) -> Iterator[bytes]:
    """Pass chunks through, recording size and sha256 in `digest` when exhausted."""
    hasher = hashlib.sha256()
    size = 0
    for chunk in chunks:
        hasher.update(chunk)
        size += len(chunk)
        yield chunk
    digest.size = size
    digest.sha256 = hasher.hexdigest()


def filename_of(source: BlobSource, explicit: str | None) -> str | None:
    """A clean base name for the BlobRef (extension only is used downstream), or None."""
    name = explicit
    if name is None:
        raw = source if isinstance(source, (str, os.PathLike)) else getattr(source, "name", None)
        name = os.fspath(raw) if isinstance(raw, (str, os.PathLike)) else None
    if not name:
        return None
    base = re.split(r"[/\\]", str(name))[-1]
    base = _CONTROL.sub("", base)[-MAX_FILENAME_CHARS:]
    return base or None


def delete_quietly(stager: Stager, refs: Iterable[BlobRef]) -> None:
    """Best-effort cleanup after a failed publish; a failure is logged, not raised."""
    for ref in refs:
        try:
            stager.delete(ref)
        except Exception as exc:  # cleanup must not hide the error that caused it
            log.warning("could not remove staged blob %s: %s", ref.uri, type(exc).__name__)


def stager_from_uri(uri: str, *, spool_memory_bytes: int = CHUNK_BYTES) -> Stager:
    """`s3://bucket/prefix/` or `file:///dir/` -> the matching stager."""
    if uri.startswith("s3://"):
        from producer_lib.s3_staging import S3Stager

        return S3Stager.from_uri(uri, spool_memory_bytes=spool_memory_bytes)
    if uri.startswith("file:///"):
        from producer_lib.dir_staging import DirStager

        return DirStager(Path(uri.removeprefix("file://")))
    raise ValueError("staging URI must be s3://bucket/prefix/ or file:///absolute/dir/")

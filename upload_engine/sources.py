"""Opening a file's source: a staged `s3://` or `file://` BlobRef, or an in-process LocalBlob.

Every source comes out as an `OpenedSource`: a reader plus the size and sha256 the bytes
must have. For a BlobRef those are the claim; for a LocalBlob the engine computes them
first (the destination key needs the digest before the first byte is written).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from schemas import BlobRef, FileFailureCode
from upload_engine.allowlist import Allowlist, file_uri_path, split_s3_uri
from upload_engine.classify import Side, classify
from upload_engine.early_read import EarlyRead
from upload_engine.errors import FileError
from upload_engine.gate import GateRead
from upload_engine.model import LocalBlob
from upload_engine.retry import RetryPolicy
from upload_engine.verify import b64_of_hex

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

C = FileFailureCode
_CHUNK = 1024 * 1024
# CopyObject's own limit; bigger staged objects are streamed.
MAX_COPY_BYTES = 5 * 1024**3
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Reader(Protocol):
    def read(self, size: int, /) -> bytes: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str
    etag: str


@dataclass
class OpenedSource:
    reader: Reader
    size: int
    sha256: str
    # Set when S3 already holds a verified SHA-256 of this exact object: copy, don't stream.
    copy_from: S3Location | None = None
    # A small LocalBlob, read once: `sha256` was computed over exactly these bytes, so the
    # PUT sends them as they are instead of re-reading and re-hashing the stream.
    data: bytes | None = None
    # For a copy: the content gate's read of `copy_from`, already answered (early_read.py).
    gate_body: Any = None

    def take_gate_body(self) -> Any:
        """The early read's body, once; None when there is none (or it was taken)."""
        body, self.gate_body = self.gate_body, None
        return body

    def close(self) -> None:
        self.reader.close()
        body = self.take_gate_body()
        if body is not None:
            body.close()


class _Nothing:
    def read(self, size: int, /) -> bytes:
        return b""

    def close(self) -> None:
        pass


def _guard_reads(reader_read: Callable[[int], bytes], size: int) -> bytes:
    try:
        return reader_read(size)
    except FileError:
        raise
    except Exception as exc:
        failure = classify(exc, Side.SOURCE)
        raise FileError(failure.code, failure.message) from exc


class _SourceStream:
    """A local stream whose read errors become contract codes."""

    def __init__(self, stream: Any, *, owned: bool) -> None:
        self._stream = stream
        self._owned = owned

    def read(self, size: int, /) -> bytes:
        data = _guard_reads(self._stream.read, size)
        return bytes(data) if not isinstance(data, bytes) else data

    def close(self) -> None:
        if self._owned:
            self._stream.close()


class S3ObjectReader:
    """Streams one S3 object; a read that fails mid-way resumes at the same offset with a
    Range GET (pinned to the ETag seen by HEAD, so a changed object is not spliced in).
    `body`: a GET of that very version already answered, read first."""

    def __init__(
        self,
        client: S3Client,
        where: S3Location,
        size: int,
        policy: RetryPolicy,
        body: Any = None,
    ) -> None:
        self._client = client
        self._where = where
        self._size = size
        self._policy = policy
        self._pos = 0
        self._body: Any = body

    def _read_once(self, size: int) -> bytes:
        if self._body is None:
            extra: dict[str, Any] = {"Range": f"bytes={self._pos}-"} if self._pos else {}
            response = self._client.get_object(
                Bucket=self._where.bucket, Key=self._where.key, IfMatch=self._where.etag, **extra
            )
            self._body = response["Body"]
        try:
            data: bytes = self._body.read(size)
        except Exception:
            self._drop_body()
            raise
        return data

    def read(self, size: int, /) -> bytes:
        if self._pos >= self._size:
            return b""
        data = self._policy.call(lambda: self._read_once(size), Side.SOURCE)
        self._pos += len(data)
        return data

    def _drop_body(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            body.close()

    def close(self) -> None:
        self._drop_body()


def _head_or_get(
    client: S3Client, bucket: str, key: str, policy: RetryPolicy, gate_read: GateRead
) -> tuple[Any, Any]:
    """What S3 holds under `key` (size, ETag, stored checksum), and, when the gate reads
    every byte, those bytes: a full GET answers all that a HEAD does (a ranged one does not
    carry the checksum), so scanning costs no request of its own."""
    if gate_read is GateRead.ALL:
        got = policy.call(
            lambda: client.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"),
            Side.SOURCE,
        )
        return got, got["Body"]
    head = policy.call(
        lambda: client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"), Side.SOURCE
    )
    return head, None


def open_s3(
    ref: BlobRef,
    allow: Allowlist,
    client: S3Client,
    policy: RetryPolicy,
    gate_read: GateRead = GateRead.NOTHING,
) -> OpenedSource:
    """`gate_read`: what the content gate reads of the object. Every byte: they come with
    the GET that stands in for the HEAD. The head of a copied object: its GET goes out with
    the HEAD (early_read.py)."""
    bucket, key = split_s3_uri(ref.uri)
    allow.check_s3(bucket, key)
    early = EarlyRead.start(client, bucket, key, ref.size) if gate_read is GateRead.HEAD else None
    body = None
    try:
        head, body = _head_or_get(client, bucket, key, policy, gate_read)
        size = int(head["ContentLength"])
        if size != ref.size:
            raise FileError(C.SIZE_MISMATCH, f"staged object has {size} bytes, claimed {ref.size}")
        where = S3Location(bucket, key, str(head["ETag"]))
        stored = head.get("ChecksumSHA256")
        # Only a full-object checksum can be compared ("<b64>-<parts>" is per part).
        copy = bool(stored) and stored == b64_of_hex(ref.sha256) and size <= MAX_COPY_BYTES
        if early is not None and copy:  # streamed, the gate sees the bytes as they pass
            body = early.take(where.etag)
    except BaseException as exc:
        if body is not None:
            body.close()
        if early is not None:
            early.cancel(wait=isinstance(exc, Exception))
        raise
    if early is not None:
        early.cancel()
    if copy:
        return OpenedSource(_Nothing(), size, ref.sha256, copy_from=where, gate_body=body)
    return OpenedSource(S3ObjectReader(client, where, size, policy, body), size, ref.sha256)


def _open_no_follow(real: str, root: str) -> int:
    try:
        fd = os.open(real, _OPEN_FLAGS)
    except OSError as exc:
        failure = classify(exc, Side.SOURCE)
        raise FileError(failure.code, failure.message) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileError(C.SOURCE_NOT_ALLOWED, "file source is not a regular file")
        # TOCTOU: a directory on the way may have been swapped for a symlink between
        # realpath() and open(). The kernel knows what was really opened.
        proc = f"/proc/self/fd/{fd}"
        if os.path.exists(proc):
            opened = os.readlink(proc)
            if os.path.commonpath((root, opened)) != root:
                raise FileError(C.SOURCE_NOT_ALLOWED, "file source moved outside the allow-list")
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(ref: BlobRef, allow: Allowlist) -> OpenedSource:
    path = file_uri_path(ref.uri)
    real = os.path.realpath(path)
    root = allow.root_of(real)
    fd = _open_no_follow(real, root)
    size = os.fstat(fd).st_size
    stream = open(fd, "rb", buffering=0, closefd=True)  # noqa: SIM115 - closed by the reader
    if size != ref.size:
        stream.close()
        raise FileError(C.SIZE_MISMATCH, f"staged file has {size} bytes, claimed {ref.size}")
    return OpenedSource(_SourceStream(stream, owned=True), size, ref.sha256)


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def open_local(blob: LocalBlob, *, max_bytes: int, spool_bytes: int) -> OpenedSource:
    """Hashes a LocalBlob once to learn its size and sha256. Up to `spool_bytes` (the
    single-PUT limit) the bytes read are kept and sent as they are: one read, one hash.
    Bigger blobs are rewound (or, if they cannot seek, read back from a spool file on disk)
    and streamed through the uploader's verifier."""
    stream = blob.stream
    seekable = _seekable(stream)
    start = stream.tell() if seekable else 0
    chunks: list[bytes] = []
    spool: Any = None
    digest = hashlib.sha256()
    size = 0
    try:
        while chunk := _guard_reads(stream.read, _CHUNK):
            chunk = bytes(chunk) if not isinstance(chunk, bytes) else chunk
            size += len(chunk)
            if size > max_bytes:
                raise FileError(C.TOO_LARGE, f"more than max_file_bytes={max_bytes}")
            digest.update(chunk)
            if spool is not None:
                spool.write(chunk)
            elif size <= spool_bytes:
                chunks.append(chunk)
            elif not seekable:
                spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the reader
                spool.writelines(chunks)
                spool.write(chunk)
                chunks.clear()
            else:
                chunks.clear()
        if size <= spool_bytes:
            data = b"".join(chunks)
            return OpenedSource(_Nothing(), size, digest.hexdigest(), data=data)
        if spool is None:
            stream.seek(start)
            return OpenedSource(_SourceStream(stream, owned=False), size, digest.hexdigest())
        spool.seek(0)
        return OpenedSource(_SourceStream(spool, owned=True), size, digest.hexdigest())
    except BaseException:
        if spool is not None:
            spool.close()
        raise

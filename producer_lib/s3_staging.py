"""Staging into an S3 bucket/prefix.

One PutObject per blob with `ChecksumSHA256`: S3 verifies the bytes against it on write and
stores it, so the consumer can check the claim with a HEAD and copy server-side without
reading the blob. (A multipart upload would store a checksum-of-checksums instead, which
cannot be compared with the BlobRef's sha256.) The hash must be known before the PUT, so
the source is spooled while it is hashed: in memory up to `spool_memory_bytes`, then in a
temporary file, which keeps peak memory flat for any file size up to S3's 5 GiB limit on a
single PUT, the consumer's default `max_file_bytes` too.
"""

from __future__ import annotations

import base64
import re
import tempfile
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from producer_lib.errors import StagingError
from producer_lib.staging import (
    BLOB_NAME,
    CHUNK_BYTES,
    BlobSource,
    Digest,
    blob_name,
    chunks_of,
    filename_of,
    hashed,
)
from schemas import BlobRef
from upload_engine.mime import content_type_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MAX_SINGLE_PUT_BYTES = 5 * 1024**3
_ROOT = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/((?:[A-Za-z0-9._-]+/)*)$")


def default_s3_client() -> S3Client:
    import boto3
    from botocore.config import Config

    from upload_engine.settings import S3Addressing

    # The consumer's addressing knob (UPLOAD_STREAM_S3_ADDRESSING_STYLE), so both ends of a
    # deployment address the endpoint the same way.
    config = Config(
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 5, "mode": "standard"},
        max_pool_connections=32,
        s3={"addressing_style": S3Addressing().s3_addressing_style},
    )
    client: S3Client = boto3.session.Session().client("s3", config=config)
    return client


class S3Stager:
    """Stages to `s3://bucket/prefix<scope>/<random id>` (staging.blob_name)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: S3Client | None = None,
        spool_memory_bytes: int = CHUNK_BYTES,
    ) -> None:
        root = f"s3://{bucket}/{prefix}"
        if not _ROOT.fullmatch(root):
            raise ValueError("staging root must look like s3://bucket/ or s3://bucket/prefix/")
        self._bucket = bucket
        self._prefix = prefix
        self._client = client
        self._spool_memory_bytes = spool_memory_bytes

    @classmethod
    def from_uri(cls, uri: str, **kwargs: Any) -> S3Stager:
        match = _ROOT.fullmatch(uri if uri.endswith("/") else uri + "/")
        if not match:
            raise ValueError("staging root must look like s3://bucket/ or s3://bucket/prefix/")
        return cls(match.group(1), match.group(2), **kwargs)

    @property
    def root(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}"

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def client(self) -> S3Client:
        if self._client is None:
            self._client = default_s3_client()
        return self._client

    def stage(
        self,
        source: BlobSource,
        *,
        content_type: str | None = None,
        filename: str | None = None,
        user_id: Any = None,
    ) -> BlobRef:
        name = filename_of(source, filename)
        ctype = content_type_of(content_type, getattr(source, "content_type", None), filename=name)
        key = f"{self._prefix}{blob_name(user_id)}"
        digest = Digest()
        with tempfile.SpooledTemporaryFile(max_size=self._spool_memory_bytes) as spool:
            for chunk in hashed(chunks_of(source), digest):
                spool.write(chunk)
                if spool.tell() > MAX_SINGLE_PUT_BYTES:
                    raise StagingError("blob is larger than 5 GiB, S3's single-PUT limit")
            spool.seek(0)
            checksum = base64.b64encode(bytes.fromhex(digest.sha256)).decode("ascii")
            try:
                self.client.put_object(
                    Bucket=self._bucket,
                    Key=key,
                    Body=spool,
                    ContentLength=digest.size,
                    ContentType=ctype,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=checksum,
                )
            except (BotoCoreError, ClientError) as exc:
                raise StagingError(f"staging to {self.root} failed: {_describe(exc)}") from exc
        return BlobRef(
            uri=f"s3://{self._bucket}/{key}",
            size=digest.size,
            sha256=digest.sha256,
            content_type=ctype,
            filename=name,
        )

    def delete(self, ref: BlobRef) -> None:
        own = f"s3://{self._bucket}/{self._prefix}"
        key = ref.uri.removeprefix(f"s3://{self._bucket}/")
        if not ref.uri.startswith(own) or not BLOB_NAME.fullmatch(key[len(self._prefix) :]):
            return
        self.client.delete_object(Bucket=self._bucket, Key=key)


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__

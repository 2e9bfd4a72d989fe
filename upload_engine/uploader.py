"""Writing one verified file to its destination key: single PUT, multipart, or copy.

The invariant: nothing becomes visible under a destination key unless its bytes match
the sha256 in the key's name.

- Single PUT (size up to the multipart threshold): the bytes are read into memory and
  verified first; only then are they sent, with `ChecksumSHA256` so that S3 verifies
  them again on arrival. A small LocalBlob was already read and hashed once to name its
  key (sources.open_local); those very bytes are sent, not read and hashed a second time.
- Multipart: parts are sent as they are read (one part in memory at a time), each with
  its own `ChecksumSHA256`; the whole stream is hashed on the way and the upload is
  completed only if size and digest match, otherwise aborted. Parts of an aborted upload
  are never visible.
- Copy: only when S3 already holds a verified SHA-256 for the staged object equal to the
  claim; the copy is then checked again (integrity.py: the checksum CopyObject reports,
  else HeadObject's, else the copy read back) and a mismatched copy is deleted.

Each stored object says which of these checks it passed (`StoredObject.verified_by`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from schemas import FileFailureCode, StoredObject, VerifiedBy
from upload_engine.classify import Side
from upload_engine.errors import FileError
from upload_engine.fast_put import FastPut
from upload_engine.integrity import verify_copy
from upload_engine.retry import RetryPolicy
from upload_engine.settings import EngineSettings, ServerSideEncryption
from upload_engine.sources import OpenedSource, S3Location
from upload_engine.verify import Verifier, b64_of_hex, b64_sha256

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)
DEST = Side.DESTINATION


@dataclass(frozen=True)
class Destination:
    bucket: str
    key: str
    content_type: str


def sse_params(settings: EngineSettings) -> dict[str, str]:
    if settings.sse is ServerSideEncryption.NONE:
        return {}
    params = {"ServerSideEncryption": settings.sse.value}
    if settings.sse is ServerSideEncryption.KMS and settings.sse_kms_key_id:
        params["SSEKMSKeyId"] = settings.sse_kms_key_id
    return params


def _read_exactly(source: OpenedSource, size: int) -> bytes:
    """Up to `size` bytes (fewer only at end of stream)."""
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = source.reader.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class Uploader:
    def __init__(
        self,
        client: S3Client,
        settings: EngineSettings,
        policy: RetryPolicy,
        fast_put: FastPut | None = None,
    ) -> None:
        self._client = client
        self._fast_put = fast_put
        self._settings = settings
        self._policy = policy
        self._sse = sse_params(settings)

    def upload(self, source: OpenedSource, dest: Destination) -> StoredObject:
        if source.copy_from is not None:
            return self._copy(source, source.copy_from, dest)
        verifier = Verifier(
            size=source.size, sha256=source.sha256, max_bytes=self._settings.max_file_bytes
        )
        if source.size <= self._settings.multipart_threshold_bytes:
            return self._put(source, verifier, dest)
        return self._multipart(source, verifier, dest)

    def _stored(
        self, source: OpenedSource, dest: Destination, response: Any, verified_by: VerifiedBy
    ) -> StoredObject:
        return StoredObject(
            bucket=dest.bucket,
            key=dest.key,
            size=source.size,
            sha256=source.sha256,
            content_type=dest.content_type,
            etag=str(response.get("ETag", "")).strip('"'),
            version_id=response.get("VersionId"),
            verified_by=verified_by,
        )

    def _put(self, source: OpenedSource, verifier: Verifier, dest: Destination) -> StoredObject:
        if source.data is not None:
            # Immutable bytes whose sha256 and size were computed from them: nothing to re-check.
            data = source.data
        else:
            # One byte more than claimed, so a longer blob is caught as a size mismatch.
            data = _read_exactly(source, source.size + 1)
            verifier.update(data)
            verifier.finish()
        params: dict[str, Any] = {
            "Bucket": dest.bucket,
            "Key": dest.key,
            "Body": data,
            "ContentType": dest.content_type,
            "ChecksumSHA256": b64_of_hex(source.sha256),
            **self._sse,
        }
        fast_put = self._fast_put
        if fast_put is None:
            response: Any = self._policy.call(lambda: self._client.put_object(**params), DEST)
        else:
            # `data` matches `source.sha256` (verified above, or the digest was computed
            # from these very bytes): the fast path signs that digest as the payload hash.
            response = self._policy.call(lambda: fast_put.put_object(params, source.sha256), DEST)
        return self._stored(source, dest, response, VerifiedBy.PUT_CHECKSUM)

    def _multipart(
        self, source: OpenedSource, verifier: Verifier, dest: Destination
    ) -> StoredObject:
        created = self._policy.call(
            lambda: self._client.create_multipart_upload(
                Bucket=dest.bucket,
                Key=dest.key,
                ContentType=dest.content_type,
                ChecksumAlgorithm="SHA256",
                **self._sse,  # type: ignore[arg-type]
            ),
            DEST,
        )
        upload_id = created["UploadId"]
        try:
            parts = self._send_parts(source, verifier, dest, upload_id)
            verifier.finish()
            response = self._policy.call(
                lambda: self._client.complete_multipart_upload(
                    Bucket=dest.bucket,
                    Key=dest.key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
                ),
                DEST,
            )
        except BaseException:
            self._abort(dest, upload_id)
            raise
        return self._stored(source, dest, response, VerifiedBy.PART_CHECKSUMS)

    def _send_parts(
        self, source: OpenedSource, verifier: Verifier, dest: Destination, upload_id: str
    ) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        part_bytes = self._settings.multipart_part_bytes
        while data := _read_exactly(source, part_bytes):
            verifier.update(data)
            number = len(parts) + 1
            checksum = b64_sha256(data)
            response = self._policy.call(
                lambda: self._client.upload_part(
                    Bucket=dest.bucket,
                    Key=dest.key,
                    UploadId=upload_id,
                    PartNumber=number,  # noqa: B023 - called before the loop moves on
                    Body=data,
                    ChecksumSHA256=checksum,  # noqa: B023
                ),
                DEST,
            )
            parts.append(
                {"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": checksum}
            )
            del data
        return parts

    def _abort(self, dest: Destination, upload_id: str) -> None:
        try:
            self._policy.call(
                lambda: self._client.abort_multipart_upload(
                    Bucket=dest.bucket, Key=dest.key, UploadId=upload_id
                ),
                DEST,
            )
        except FileError as problem:
            # The upload stays invisible either way; a lifecycle rule reaps stale parts.
            log.warning("abort of a multipart upload failed: %s", problem.code.value)

    def _copy(self, source: OpenedSource, where: S3Location, dest: Destination) -> StoredObject:
        response = self._policy.call(
            lambda: self._client.copy_object(
                Bucket=dest.bucket,
                Key=dest.key,
                CopySource={"Bucket": where.bucket, "Key": where.key},
                CopySourceIfMatch=where.etag,
                ContentType=dest.content_type,
                MetadataDirective="REPLACE",
                ChecksumAlgorithm="SHA256",
                **self._sse,  # type: ignore[arg-type]
            ),
            DEST,
        )
        try:
            verified_by = verify_copy(
                self._client,
                self._policy,
                bucket=dest.bucket,
                key=dest.key,
                size=source.size,
                sha256=source.sha256,
                copied=response,
            )
        except FileError as problem:
            if problem.code in (FileFailureCode.CHECKSUM_MISMATCH, FileFailureCode.SIZE_MISMATCH):
                self._policy.call(
                    lambda: self._client.delete_object(Bucket=dest.bucket, Key=dest.key), DEST
                )
            raise
        result = response.get("CopyObjectResult", {})
        merged = {"ETag": result.get("ETag", ""), "VersionId": response.get("VersionId")}
        return self._stored(source, dest, merged, verified_by)

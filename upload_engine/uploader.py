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

The content gate (gate.py) sees every chunk before it is sent anywhere, and its verdict
comes before the PUT, the completion or the copy. For a copy it reads the staged object
itself, pinned to the ETag the copy is pinned to: only the head for the type check (a
ranged GET sent with the source's HEAD, early_read.py), every byte when scanning (the GET
that stood in for the source's HEAD, sources.py; no upload).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from schemas import FileFailureCode, StoredObject, VerifiedBy
from upload_engine.classify import Side
from upload_engine.content_type import HEAD_BYTES
from upload_engine.early_read import head_range
from upload_engine.errors import FileError
from upload_engine.fast_put import FastPut
from upload_engine.gate import ContentGate, FileGate, GateReport
from upload_engine.integrity import verify_copy
from upload_engine.retry import RetryPolicy
from upload_engine.settings import EngineSettings, ServerSideEncryption
from upload_engine.sources import OpenedSource, S3Location, S3ObjectReader
from upload_engine.verify import Verifier, b64_of_hex, b64_sha256

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)
DEST = Side.DESTINATION
_GATE_CHUNK = 1024 * 1024


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
        gate: ContentGate | None = None,
    ) -> None:
        self._client = client
        self._gate = gate
        self._fast_put = fast_put
        self._settings = settings
        self._policy = policy
        self._sse = sse_params(settings)

    def upload(self, source: OpenedSource, dest: Destination) -> StoredObject:
        gate = self._open_gate(dest)
        try:
            if source.copy_from is not None:
                return self._copy(source, source.copy_from, dest, gate)
            verifier = Verifier(
                size=source.size, sha256=source.sha256, max_bytes=self._settings.max_file_bytes
            )
            if source.size <= self._settings.multipart_threshold_bytes:
                return self._put(source, verifier, dest, gate)
            return self._multipart(source, verifier, dest, gate)
        finally:
            if gate is not None:
                gate.close()

    def _open_gate(self, dest: Destination) -> FileGate | None:
        gate = self._gate
        if gate is None or not (gate.type_check or gate.scanning):
            return None
        return gate.open(dest.content_type)

    def _stored(
        self,
        source: OpenedSource,
        dest: Destination,
        response: Any,
        checked: GateReport | None,
        verified_by: VerifiedBy,
    ) -> StoredObject:
        checked = checked or GateReport()
        return StoredObject(
            bucket=dest.bucket,
            key=dest.key,
            size=source.size,
            sha256=source.sha256,
            content_type=dest.content_type,
            etag=str(response.get("ETag", "")).strip('"'),
            version_id=response.get("VersionId"),
            verified_by=verified_by,
            detected_content_type=checked.detected_content_type,
            scan=checked.scan,
        )

    def _put(
        self, source: OpenedSource, verifier: Verifier, dest: Destination, gate: FileGate | None
    ) -> StoredObject:
        if source.data is not None:
            # Immutable bytes whose sha256 and size were computed from them: nothing to re-check.
            data = source.data
        else:
            # One byte more than claimed, so a longer blob is caught as a size mismatch.
            data = _read_exactly(source, source.size + 1)
            verifier.update(data)
            verifier.finish()
        checked = None
        if gate is not None:
            gate.feed(data)
            checked = gate.finish(source.size)
        params: dict[str, Any] = {
            "Bucket": dest.bucket,
            "Key": dest.key,
            "Body": data,
            "ContentType": dest.content_type,
            # Named too (x-amz-sdk-checksum-algorithm), as the SDKs do: some endpoints (moto)
            # store the checksum only then, and `reuse_stored_objects` needs it stored.
            "ChecksumAlgorithm": "SHA256",
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
        return self._stored(source, dest, response, checked, VerifiedBy.PUT_CHECKSUM)

    def _multipart(
        self, source: OpenedSource, verifier: Verifier, dest: Destination, gate: FileGate | None
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
            parts = self._send_parts(source, verifier, dest, upload_id, gate)
            verifier.finish()
            checked = gate.finish(source.size) if gate is not None else None
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
        return self._stored(source, dest, response, checked, VerifiedBy.PART_CHECKSUMS)

    def _send_parts(
        self,
        source: OpenedSource,
        verifier: Verifier,
        dest: Destination,
        upload_id: str,
        gate: FileGate | None,
    ) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        part_bytes = self._settings.multipart_part_bytes
        while data := _read_exactly(source, part_bytes):
            verifier.update(data)
            if gate is not None:
                gate.feed(data)
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

    def _check_staged(self, source: OpenedSource, where: S3Location, gate: FileGate) -> GateReport:
        """The gate over the staged object itself, pinned to the ETag the copy will be: read
        by the GET that went out with the HEAD (early_read.py) when it saw that ETag."""
        if gate.wants_all_bytes:
            reader = S3ObjectReader(
                self._client, where, source.size, self._policy, source.take_gate_body()
            )
            try:
                while data := reader.read(_GATE_CHUNK):
                    gate.feed(data)
            finally:
                reader.close()
        elif source.size:

            def read_head() -> bytes:
                # A retry reads again, pinned: the early body may be what failed.
                body = source.take_gate_body()
                if body is None:
                    body = self._client.get_object(
                        Bucket=where.bucket,
                        Key=where.key,
                        IfMatch=where.etag,
                        Range=head_range(source.size),
                    )["Body"]
                try:
                    # At most the head, even from an endpoint that ignores Range.
                    head: bytes = body.read(HEAD_BYTES)
                finally:
                    body.close()
                return head

            gate.feed(self._policy.call(read_head, Side.SOURCE))
        return gate.finish(source.size)

    def _copy(
        self, source: OpenedSource, where: S3Location, dest: Destination, gate: FileGate | None
    ) -> StoredObject:
        checked = self._check_staged(source, where, gate) if gate is not None else None
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
        return self._stored(source, dest, merged, checked, verified_by)

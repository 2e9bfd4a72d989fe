"""How a server-side copy is shown to hold the claimed bytes, on any S3-compatible server.

CopyObject with `ChecksumAlgorithm=SHA256` makes S3 recompute the copy's SHA-256 and report
it in `CopyObjectResult`. Not every server reports it (SeaweedFS keeps it on the object,
S3Proxy neither reports nor stores one; README, "A second S3 server"), and a copy that was
never checked must not pass as verified. So, first that answer holds:

1. `copy_checksum`: CopyObjectResult's ChecksumSHA256;
2. `head_checksum`: HeadObject of the copy (that version) with `ChecksumMode=ENABLED`,
   a full-object ChecksumSHA256;
3. `read_back`: the copy streamed back and hashed (bounded memory; one GET of the object).

A reported digest or size that differs raises `checksum_mismatch` / `size_mismatch`, and the
caller deletes the copy. A check that cannot finish (a timeout past the retry budget) fails
the file with that retryable code.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from schemas import FileFailureCode, VerifiedBy
from upload_engine.classify import Side
from upload_engine.errors import FileError
from upload_engine.retry import RetryPolicy
from upload_engine.verify import Verifier, b64_of_hex

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_READ_CHUNK = 1024 * 1024


def _mismatch() -> FileError:
    return FileError(FileFailureCode.CHECKSUM_MISMATCH, "copied object's sha256 differs")


def verify_copy(
    client: S3Client,
    policy: RetryPolicy,
    *,
    bucket: str,
    key: str,
    size: int,
    sha256: str,
    copied: Any,
) -> VerifiedBy:
    """Which way the copy `copied` (CopyObject's response) was shown to match `sha256`."""
    expected = b64_of_hex(sha256)
    reported = copied.get("CopyObjectResult", {}).get("ChecksumSHA256")
    if reported is not None:
        if reported != expected:
            raise _mismatch()
        return VerifiedBy.COPY_CHECKSUM
    version: dict[str, Any] = {"VersionId": copied["VersionId"]} if copied.get("VersionId") else {}
    head = policy.call(
        lambda: client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED", **version),
        Side.DESTINATION,
    )
    if int(head["ContentLength"]) != size:
        raise FileError(
            FileFailureCode.SIZE_MISMATCH, f"copied object has {head['ContentLength']} bytes"
        )
    stored = head.get("ChecksumSHA256")
    # "<b64>-<parts>" is a checksum of part checksums: not comparable with the claim.
    if stored is not None and "-" not in stored:
        if stored != expected:
            raise _mismatch()
        return VerifiedBy.HEAD_CHECKSUM

    def read_back() -> None:
        verifier = Verifier(size=size, sha256=sha256, max_bytes=sys.maxsize)
        body = client.get_object(Bucket=bucket, Key=key, **version)["Body"]
        try:
            while chunk := body.read(_READ_CHUNK):
                verifier.update(chunk)
        finally:
            body.close()
        verifier.finish()  # size_mismatch or checksum_mismatch

    # A read broken mid-way starts over: rare, and still cheaper than streaming the source.
    policy.call(read_back, Side.DESTINATION)
    return VerifiedBy.READ_BACK

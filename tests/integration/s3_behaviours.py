"""What an S3-compatible server checks and supports, measured with plain boto3 calls (no
tests in here; `tests/integration/upload_engine/test_s3_strict.py` pins the answers of the
stack's server).

`python -m tests.integration.s3_behaviours NAME=URL ...` prints the table for any servers
(fake credentials `test`/`test`, as the local servers use), e.g. for S3Proxy by hand.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import uuid
from collections.abc import Callable
from typing import Any

from upload_stream_cli.devstack.s3 import FAKE_AWS_ENV, REGION

BEHAVIOURS = (
    "signature",
    "unknown_key",
    "checksum",
    "content_md5",
    "multipart",
    "copy_checksum",
    "sse",
    "versioning",
)
_DATA = b"%PDF-1.7 probe" * 64
_PART = b"p" * (5 * 1024 * 1024)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _sha(data: bytes) -> str:
    return _b64(hashlib.sha256(data).digest())


def client(endpoint: str, *, key: str | None = None, secret: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key or FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=secret or FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def _refused(call: Callable[[], Any]) -> str | None:
    """The error code a call was answered with, None when it succeeded."""
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as exc:
        return str(exc.response.get("Error", {}).get("Code"))
    return None


def _checked(call: Callable[[], Any]) -> str:
    code = _refused(call)
    return "not checked" if code is None else f"rejected: {code}"


def measure(endpoint: str) -> dict[str, str]:
    """behaviour -> what the server did, for every name in BEHAVIOURS."""
    s3 = client(endpoint)
    bucket = f"probe-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    try:
        return _measure(endpoint, s3, bucket)
    finally:
        _empty_and_delete(s3, bucket)
        s3.close()


def _measure(endpoint: str, s3: Any, bucket: str) -> dict[str, str]:
    found: dict[str, str] = {}
    put = {"Bucket": bucket, "Key": "a", "Body": _DATA}
    for name, bad in (("signature", {"secret": "wrong"}), ("unknown_key", {"key": "nobody"})):
        other = client(endpoint, **bad)
        found[name] = _checked(lambda c=other: c.put_object(**put))  # type: ignore[misc]
        other.close()
    found["checksum"] = _checked(lambda: s3.put_object(**put, ChecksumSHA256=_sha(b"other")))
    wrong_md5 = _b64(hashlib.md5(b"other", usedforsecurity=False).digest())
    found["content_md5"] = _checked(lambda: s3.put_object(**put, ContentMD5=wrong_md5))

    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="SHA256")
    part = {"Bucket": bucket, "Key": "mp", "UploadId": upload["UploadId"], "PartNumber": 1}
    bad_part = _refused(lambda: s3.upload_part(**part, Body=_PART, ChecksumSHA256=_sha(b"x")))
    sent = s3.upload_part(**part, Body=_PART, ChecksumSHA256=_sha(_PART))
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload["UploadId"],
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": sent["ETag"], "ChecksumSHA256": _sha(_PART)}]
        },
    )
    found["multipart"] = "part checksum not checked" if bad_part is None else f"part {bad_part}"

    s3.put_object(**put, ChecksumSHA256=_sha(_DATA))
    copied = s3.copy_object(
        Bucket=bucket,
        Key="copy",
        CopySource={"Bucket": bucket, "Key": "a"},
        ChecksumAlgorithm="SHA256",
        MetadataDirective="REPLACE",
        ContentType="application/pdf",
    )
    head = s3.head_object(Bucket=bucket, Key="copy", ChecksumMode="ENABLED")
    if copied["CopyObjectResult"].get("ChecksumSHA256") == _sha(_DATA):
        found["copy_checksum"] = "reported"
    elif head.get("ChecksumSHA256") == _sha(_DATA):
        found["copy_checksum"] = "on HeadObject only"
    else:
        found["copy_checksum"] = "none"

    sse: dict[str, Any] = {}
    code = _refused(lambda: sse.update(s3.put_object(**put, ServerSideEncryption="AES256")))
    if code is not None:
        found["sse"] = f"rejected: {code}"
    else:
        found["sse"] = "applied" if sse.get("ServerSideEncryption") else "accepted, not reported"

    enabled = {"Status": "Enabled"}
    code = _refused(
        lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=enabled)
    )
    if code is not None:
        found["versioning"] = f"rejected: {code}"
    else:
        versioned = s3.put_object(**put)
        found["versioning"] = "version ids" if versioned.get("VersionId") else "no version ids"
    return found


def _empty_and_delete(s3: Any, bucket: str) -> None:
    from botocore.exceptions import ClientError

    try:
        listing = s3.list_object_versions(Bucket=bucket)
        doomed = [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]
        objects = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in doomed]
    except ClientError:  # a server without versioning (S3Proxy)
        objects = [{"Key": o["Key"]} for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    if objects:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    s3.delete_bucket(Bucket=bucket)


def main(argv: list[str]) -> int:
    servers = dict(arg.split("=", 1) for arg in argv)
    if not servers:
        print("usage: python -m tests.integration.s3_behaviours NAME=URL ...", file=sys.stderr)
        return 2
    measured = {name: measure(url) for name, url in servers.items()}
    print("| behaviour | " + " | ".join(servers) + " |")
    print("|---|" + "---|" * len(servers))
    for behaviour in BEHAVIOURS:
        row = " | ".join(measured[name][behaviour] for name in servers)
        print(f"| {behaviour} | {row} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

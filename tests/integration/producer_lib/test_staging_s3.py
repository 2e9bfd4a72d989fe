"""S3 staging against the S3 endpoint over HTTP: the stored sha256 checksum, random keys,
spooling to disk past the memory threshold, errors, and deleting only our own blobs."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from producer_lib.errors import StagingError
from producer_lib.s3_staging import S3Stager
from schemas import BlobRef


@pytest.fixture
def bucket(make_bucket: Any) -> str:
    name: str = make_bucket("staging")
    return name


def test_staged_object_carries_its_sha256_for_the_consumer(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    content = bytes(range(256)) * 12_288  # 3 MiB: past the spool's memory threshold
    source = tmp_path / "passport scan.PDF"
    source.write_bytes(content)
    stager = S3Stager(bucket, "in/", client=s3, spool_memory_bytes=1024 * 1024)

    ref = stager.stage(source)

    digest = hashlib.sha256(content)
    match = re.fullmatch(rf"s3://{bucket}/in/([0-9a-f]{{32}})", ref.uri)
    assert match is not None
    assert ref.size == len(content)
    assert ref.sha256 == digest.hexdigest()
    assert ref.content_type == "application/pdf"
    assert ref.filename == "passport scan.PDF"
    head = s3.head_object(Bucket=bucket, Key=f"in/{match.group(1)}", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(digest.digest()).decode()
    assert head["ContentLength"] == len(content)
    assert head["ContentType"] == "application/pdf"
    body = s3.get_object(Bucket=bucket, Key=f"in/{match.group(1)}")["Body"].read()
    assert body == content


def test_two_stagings_of_the_same_bytes_get_different_keys(s3: Any, bucket: str) -> None:
    stager = S3Stager(bucket, client=s3)
    first, second = stager.stage(b"same"), stager.stage(b"same")
    assert first.uri != second.uri
    assert first.sha256 == second.sha256


def test_a_missing_bucket_is_a_staging_error(s3: Any) -> None:
    stager = S3Stager("no-such-bucket-for-staging", client=s3)
    with pytest.raises(StagingError) as caught:
        stager.stage(b"x")
    assert str(caught.value) == "staging to s3://no-such-bucket-for-staging/ failed: NoSuchBucket"


def test_delete_removes_only_blobs_it_staged(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="other/keep", Body=b"keep")
    s3.put_object(Bucket=bucket, Key="in/not-a-blob-id", Body=b"keep")
    stager = S3Stager(bucket, "in/", client=s3)
    ref = stager.stage(b"mine")

    for uri in (f"s3://{bucket}/other/keep", f"s3://{bucket}/in/not-a-blob-id"):
        stager.delete(BlobRef(uri=uri, size=4, sha256="0" * 64, content_type="a/b"))
    stager.delete(ref)

    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["in/not-a-blob-id", "other/keep"]

"""The lean signed PUT (upload_engine/fast_put.py) against the stack's moto server over
HTTP: it engages after the first PUT per bucket, and what it stores and reports is what
botocore's path stores and reports."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import Any

from upload_engine import LocalBlob, UploadEngine, UploadJob, UploadOutcome

PAYLOADS = [bytes([i]) * 1000 + b"%PDF-1.7 fast put " * (200 + i) for i in range(6)]


def upload(engine: UploadEngine, bucket: str, workers: int) -> UploadOutcome:
    files: dict[str, Any] = {
        f"doc{i}": LocalBlob(io.BytesIO(data), "application/pdf", f"doc{i}.pdf")
        for i, data in enumerate(PAYLOADS)
    }
    job = UploadJob(
        request_id="fast-1", user_id="42", file_category="kyc", bucket=bucket, files=files,
        max_workers=workers,
    )  # fmt: skip
    outcome = engine.upload(job)
    assert outcome.failures == {}
    return outcome


def versioned_bucket(s3: Any, make_bucket: Callable[..., str], prefix: str) -> str:
    name = make_bucket(prefix)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def stored_as(s3: Any, outcome: UploadOutcome) -> dict[str, tuple[Any, ...]]:
    """Per file: the body S3 holds, and what the engine reported next to what S3 says."""
    seen = {}
    for file_type, obj in outcome.objects.items():
        got = s3.get_object(Bucket=obj.bucket, Key=obj.key, ChecksumMode="ENABLED")
        seen[file_type] = (
            got["Body"].read(),
            got["ETag"].strip('"'),
            got.get("VersionId"),
            got.get("ChecksumSHA256"),
            got["ContentType"],
            obj.etag,
            obj.version_id,
            obj.sha256,
        )
    return seen


def test_fast_puts_store_and_report_what_botocore_does(
    engine_on_stack: Callable[..., UploadEngine], s3: Any, make_bucket: Callable[..., str]
) -> None:
    fast_bucket = versioned_bucket(s3, make_bucket, "fast")
    plain_bucket = versioned_bucket(s3, make_bucket, "plain")
    fast = engine_on_stack()
    by_fast = stored_as(s3, upload(fast, fast_bucket, workers=1))
    assert fast.fast_put is not None
    assert (fast.fast_put.sent_fast, fast.fast_put.sent_botocore) == (5, 1)
    by_botocore = stored_as(s3, upload(engine_on_stack(s3_fast_put=False), plain_bucket, 1))

    for file_type, data in zip(by_fast, PAYLOADS, strict=True):
        digest = hashlib.sha256(data).hexdigest()
        for body, etag, version, _, content_type, reported_etag, reported_version, sha in (
            by_fast[file_type],
            by_botocore[file_type],
        ):
            assert (body, content_type) == (data, "application/pdf")
            assert (reported_etag, reported_version, sha) == (etag, version, digest)
            assert version is not None
        # The same bytes make the same ETag and stored checksum whichever way they went
        # (moto keeps a checksum only when asked with x-amz-sdk-checksum-algorithm, which
        # neither path sends).
        assert by_fast[file_type][1] == by_botocore[file_type][1]
        assert by_fast[file_type][3] == by_botocore[file_type][3]


def test_concurrent_fast_puts_over_one_pool(
    engine_on_stack: Callable[..., UploadEngine], s3: Any, make_bucket: Callable[..., str]
) -> None:
    bucket = make_bucket("fast")
    engine = engine_on_stack(max_concurrency=8)
    upload(engine, bucket, workers=1)  # learns the bucket
    outcome = upload(engine, bucket, workers=6)  # same keys again: content-addressed
    assert engine.fast_put is not None
    assert (engine.fast_put.sent_fast, engine.fast_put.sent_botocore) == (11, 1)
    for body, *_ in stored_as(s3, outcome).values():
        assert body in PAYLOADS

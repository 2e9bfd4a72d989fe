"""What the stack's S3 server checks, and what the engine makes of it (`make test` runs this
file on moto and again on versitygw; the README's "A second S3 server" is this table).

moto accepts wrong signatures, unknown keys, wrong checksums and corrupted bodies; versitygw
rejects them as S3 does. Each test states what the engine does on each server.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import FlexibleChecksumError

from schemas import BlobRef, VerifiedBy
from schemas import FileFailureCode as C
from tests import samples
from tests.conftest import unavailable
from tests.integration.s3_behaviours import measure
from tests.unit.engine_support import opaque_bytes
from upload_engine import LocalBlob, UploadEngine, UploadJob
from upload_engine.verify import b64_of_hex
from upload_stream_cli.devstack.clamd import ClamdServer
from upload_stream_cli.devstack.stack import Stack

EXPECTED = {
    "moto": {
        "signature": "not checked",
        "unknown_key": "not checked",
        "checksum": "not checked",
        "content_md5": "not checked",
        "multipart": "part checksum not checked",
        "copy_checksum": "reported",
        "sse": "applied",
        "versioning": "version ids",
    },
    "versitygw": {
        "signature": "rejected: SignatureDoesNotMatch",
        "unknown_key": "rejected: XAdminUserNotFound",
        "checksum": "rejected: BadDigest",
        "content_md5": "rejected: BadDigest",
        "multipart": "part BadDigest",
        "copy_checksum": "reported",
        "sse": "accepted, not reported",
        "versioning": "version ids",
    },
}
DATA = b"%PDF-1.7 strict " * 100
DIGEST = hashlib.sha256(DATA).hexdigest()
MiB = 1024 * 1024


def server(stack: Stack) -> str:
    name = stack.s3_server_name
    if name not in EXPECTED:
        unavailable(f"S3 comes from AWS_ENDPOINT_URL: no recorded behaviour for {name!r}")
    return name


def job(bucket: str, files: dict[str, Any]) -> UploadJob:
    return UploadJob(
        request_id="strict-1", user_id="42", file_category="kyc", bucket=bucket, files=files,
        max_workers=2,
    )  # fmt: skip


def local(data: bytes = DATA) -> LocalBlob:
    return LocalBlob(io.BytesIO(data), "application/pdf", "doc.pdf")


def test_the_server_checks_what_the_table_says(stack: Stack) -> None:
    assert measure(stack.s3_endpoint) == EXPECTED[server(stack)]


@pytest.mark.parametrize(
    ("variable", "value", "answer"),
    [
        ("AWS_SECRET_ACCESS_KEY", "wrong-secret", "SignatureDoesNotMatch"),
        ("AWS_ACCESS_KEY_ID", "nobody", "XAdminUserNotFound"),
    ],
)
def test_wrong_credentials_are_denied_at_once(
    stack: Stack,
    engine_on_stack: Callable[..., UploadEngine],
    make_bucket: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    answer: str,
) -> None:
    name, bucket = server(stack), make_bucket("dest")
    monkeypatch.setenv(variable, value)
    outcome = engine_on_stack(retry_max_attempts=4).upload(job(bucket, {"doc": local()}))
    if name == "moto":  # accepts any credentials
        assert outcome.failures == {}
        return
    failure = outcome.failures["doc"]
    assert (failure.code, failure.retryable) == (C.DESTINATION_DENIED, False)
    assert answer in failure.message
    assert "attempts" not in failure.message  # permanent: sent once, not retried


def test_bytes_changed_after_signing_are_rejected(
    stack: Stack,
    engine_on_stack: Callable[..., UploadEngine],
    make_bucket: Callable[..., str],
    s3: Any,
) -> None:
    name, bucket = server(stack), make_bucket("dest")
    engine = engine_on_stack(s3_fast_put=False)

    def corrupt(request: Any, **_: Any) -> None:
        body = request.body if isinstance(request.body, bytes) else request.body.read()
        request.body = body[::-1]  # same length, other bytes: what a bad link might do

    engine.client.meta.events.register_last("before-send.s3.PutObject", corrupt)
    outcome = engine.upload(job(bucket, {"doc": local()}))
    if name == "moto":  # stores whatever arrives: the corruption goes unnoticed...
        key = outcome.objects["doc"].key
        # ...under the checksum we sent, so only a reader that validates it notices.
        with pytest.raises(FlexibleChecksumError):
            s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")["Body"].read()
        return
    failure = outcome.failures["doc"]
    assert (failure.code, failure.retryable) == (C.CHECKSUM_MISMATCH, False)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_each_path_says_how_it_was_verified(
    stack: Stack,
    engine_on_stack: Callable[..., UploadEngine],
    make_bucket: Callable[..., str],
    s3: Any,
) -> None:
    server(stack)
    dest, stage = make_bucket("dest"), make_bucket("stage")
    s3.put_bucket_versioning(Bucket=dest, VersioningConfiguration={"Status": "Enabled"})
    big = opaque_bytes(6 * MiB)
    s3.put_object(
        Bucket=stage, Key="in/copied", Body=DATA, ChecksumAlgorithm="SHA256",
        ChecksumSHA256=b64_of_hex(DIGEST),
    )  # fmt: skip
    copied = BlobRef(
        uri=f"s3://{stage}/in/copied", size=len(DATA), sha256=DIGEST, content_type="text/plain"
    )
    engine = engine_on_stack(
        staging_allowlist=[f"s3://{stage}/in/"],
        multipart_threshold_bytes=5 * MiB,
        multipart_part_bytes=5 * MiB,
    )  # SSE stays at its default, AES256: both servers accept it
    outcome = engine.upload(job(dest, {"small": local(), "big": local(big), "copied": copied}))
    assert outcome.failures == {}
    verified = {file_type: obj.verified_by for file_type, obj in outcome.objects.items()}
    assert verified == {
        "small": VerifiedBy.PUT_CHECKSUM,
        "big": VerifiedBy.PART_CHECKSUMS,
        "copied": VerifiedBy.COPY_CHECKSUM,  # both report the copy's checksum
    }
    for file_type, data in (("small", DATA), ("big", big), ("copied", DATA)):
        obj = outcome.objects[file_type]
        assert obj.version_id  # versioned on both
        got = s3.get_object(Bucket=dest, Key=obj.key, VersionId=obj.version_id)
        assert got["Body"].read() == data


@pytest.mark.parametrize("scan", [False, True], ids=["type check", "type check and scan"])
def test_a_gated_server_side_copy_reads_the_staged_object_on_both_servers(
    stack: Stack,
    engine_on_stack: Callable[..., UploadEngine],
    make_bucket: Callable[..., str],
    s3: Any,
    clamd: ClamdServer,
    scan: bool,
) -> None:
    """The type check's ranged GET goes out with the HEAD; scanning's full GET stands in for
    it (upload_engine/early_read.py, sources.py): each server answers both as S3 does."""
    server(stack)
    dest, stage = make_bucket("dest"), make_bucket("stage")
    staged = {
        "passport": (samples.pdf_bytes(), "application/pdf"),
        "selfie": (samples.elf_bytes() + bytes(16 * 1024), "image/jpeg"),
        "id_front": (samples.eicar(), "image/jpeg"),
    }
    refs = {}
    for file_type, (data, content_type) in staged.items():
        digest = hashlib.sha256(data).hexdigest()
        s3.put_object(
            Bucket=stage, Key=f"in/{file_type}", Body=data, ChecksumAlgorithm="SHA256",
            ChecksumSHA256=b64_of_hex(digest),
        )  # fmt: skip
        refs[file_type] = BlobRef(
            uri=f"s3://{stage}/in/{file_type}", size=len(data), sha256=digest,
            content_type=content_type,
        )  # fmt: skip
    scanning = {"clamd_address": clamd.unix_address} if scan else {}
    engine = engine_on_stack(staging_allowlist=[f"s3://{stage}/in/"], **scanning)

    outcome = engine.upload(job(dest, refs))

    passport = outcome.objects["passport"]
    assert passport.verified_by is VerifiedBy.COPY_CHECKSUM
    assert passport.detected_content_type == "application/pdf"
    assert (passport.scan is not None) is scan
    assert outcome.failures["selfie"].code is C.CONTENT_TYPE_MISMATCH
    # EICAR reads as text/plain, a type the rule lets pass (upload_engine/content_type.py).
    if scan:
        assert outcome.failures["id_front"].code is C.MALWARE_DETECTED
    listed = s3.list_objects_v2(Bucket=dest).get("Contents", [])
    assert [o["Key"] for o in listed] == sorted(
        [passport.key] + ([] if scan else [outcome.objects["id_front"].key])
    )

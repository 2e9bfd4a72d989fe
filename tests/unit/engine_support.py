"""Shared fixtures and helpers of the engine's unit tests (no tests in here).

Everything runs against moto's in-process S3 (`mock_aws`): no sockets, no Kafka.
`FlakyClient` wraps that client to inject failures into chosen operations.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from schemas import BlobRef
from upload_engine import UploadEngine, UploadJob
from upload_engine.model import Source
from upload_engine.settings import EngineSettings
from upload_engine.verify import b64_of_hex

STAGE_PREFIX = "incoming/"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FlakyClient:
    """A real (moto) client whose chosen operations fail: `fail["put_object"] = [exc, ...]`
    raises those in turn, then delegates; `calls` counts every operation."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.fail: dict[str, list[BaseException]] = {}
        self.calls: dict[str, int] = {}
        self.before: dict[str, Callable[[dict[str, Any]], None]] = {}

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if name.startswith("_") or name == "meta" or not callable(target):
            return target

        def call(**kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            if name in self.before:
                self.before[name](kwargs)
            queue = self.fail.get(name)
            if queue:
                raise queue.pop(0)
            return target(**kwargs)

        return call


@dataclass
class Env:
    root: Path
    client: Any
    dest: str
    stage: str
    engines: list[UploadEngine] = field(default_factory=list)

    def job(self, files: dict[str, Source], **overrides: Any) -> UploadJob:
        values: dict[str, Any] = {
            "request_id": "req-1",
            "user_id": "u1",
            "file_category": "kyc",
            "bucket": self.dest,
            "max_workers": 4,
        }
        values.update(overrides)
        return UploadJob(files=files, **values)

    def settings(self, **overrides: Any) -> EngineSettings:
        values: dict[str, Any] = {
            "default_bucket": self.dest,
            "staging_allowlist": [f"file://{self.root}/", f"s3://{self.stage}/{STAGE_PREFIX}"],
            "retry_max_attempts": 3,
            "retry_base_delay_s": 0.001,
            "retry_max_delay_s": 0.002,
            # Its destination HEAD would take failures these tests inject into the source's
            # HEAD; tests/unit/upload_engine/test_reuse.py turns it on.
            "reuse_stored_objects": False,
        }
        values.update(overrides)
        return EngineSettings(**values)

    def engine(self, client: Any = None, **overrides: Any) -> UploadEngine:
        made = UploadEngine(self.settings(**overrides), client or self.client)
        self.engines.append(made)
        return made

    def flaky(self) -> FlakyClient:
        return FlakyClient(self.client)

    def stage_file(
        self,
        name: str,
        data: bytes,
        *,
        claim: bytes | None = None,
        content_type: str = "image/jpeg",
    ) -> BlobRef:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        claimed = data if claim is None else claim
        return BlobRef(
            uri=f"file://{path}",
            size=len(claimed),
            sha256=sha(claimed),
            content_type=content_type,
            filename=name,
        )

    def stage_s3(
        self, key: str, data: bytes, *, stored_checksum: bool = False, claim: bytes | None = None
    ) -> BlobRef:
        extra: dict[str, Any] = {}
        if stored_checksum:
            extra = {"ChecksumAlgorithm": "SHA256", "ChecksumSHA256": b64_of_hex(sha(data))}
        self.client.put_object(Bucket=self.stage, Key=STAGE_PREFIX + key, Body=data, **extra)
        claimed = data if claim is None else claim
        return BlobRef(
            uri=f"s3://{self.stage}/{STAGE_PREFIX}{key}",
            size=len(claimed),
            sha256=sha(claimed),
            content_type="application/pdf",
        )

    def keys(self, bucket: str | None = None) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=bucket or self.dest)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def body(self, key: str) -> bytes:
        data: bytes = self.client.get_object(Bucket=self.dest, Key=key)["Body"].read()
        return data


@pytest.fixture(scope="module")
def moto_client() -> Iterator[Any]:
    """One in-process moto per test module: starting it costs ~0.5 s."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        yield client
        client.close()


@pytest.fixture(name="env")
def env_fixture(tmp_path: Path, moto_client: Any) -> Iterator[Env]:
    """Fresh buckets and a fresh staging dir per test; engines closed afterwards."""
    root = tmp_path / "staging"
    root.mkdir()
    suffix = uuid.uuid4().hex[:10]
    made = Env(root=root, client=moto_client, dest=f"dest-{suffix}", stage=f"stage-{suffix}")
    moto_client.create_bucket(Bucket=made.dest)
    moto_client.create_bucket(Bucket=made.stage)
    yield made
    for engine in made.engines:
        engine.close()


def opaque_bytes(size: int) -> bytes:
    """`size` random bytes behind a fixed text head: random heads now and then look like a
    known type to the content gate's type check (a DOS executable, say)."""
    head = b"upload-stream opaque test bytes\n"
    return head + os.urandom(size - len(head))

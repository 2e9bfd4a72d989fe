"""The upload engine's settings, read from `UPLOAD_STREAM_*` (boto3 reads `AWS_*` itself)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.fields import MAX_WORKERS_LIMIT

CommaList = Annotated[list[str], NoDecode]


def split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class ServerSideEncryption(StrEnum):
    AES256 = "AES256"
    KMS = "aws:kms"
    NONE = "none"


_CONFIG = SettingsConfigDict(env_prefix="UPLOAD_STREAM_", frozen=True, extra="ignore")


class StagingRoots(BaseSettings):
    """Where staged blobs may live: the engine reads from there, the producer stages there."""

    model_config = _CONFIG

    staging_allowlist: CommaList = Field(
        default_factory=list,
        description="Roots blobs may be read from: `s3://bucket/prefix/` and `file:///dir/`.",
    )

    _split = field_validator("staging_allowlist", mode="before")(split_commas)

    @field_validator("staging_allowlist")
    @classmethod
    def _staging_roots_well_formed(cls, value: list[str]) -> list[str]:
        for root in value:
            if not (root.startswith("s3://") or root.startswith("file:///")):
                raise ValueError(f"staging root must start with s3:// or file:///: {root[:80]!r}")
        return value


class S3Addressing(BaseSettings):
    """How S3 endpoints are addressed; the producer's staging client addresses them alike."""

    model_config = _CONFIG

    s3_addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="auto", description="`auto`, `path` (MinIO, moto) or `virtual`."
    )


class EngineSettings(StagingRoots, S3Addressing):
    """What the upload engine needs; also all that `AWSService` needs in direct mode."""

    model_config = _CONFIG

    default_bucket: str | None = Field(
        default=None, description="Destination when a request names none (required to consume)."
    )
    allowed_buckets: CommaList = Field(
        default_factory=list, description="Destinations a request may name; default: the default."
    )
    max_concurrency: int = Field(
        default=64,
        ge=1,
        le=1024,
        description="Files in flight at once in this process, over all requests; the S3 "
        "connection pool holds two connections for each.",
    )
    default_max_workers: int = Field(
        default=5,
        ge=1,
        le=MAX_WORKERS_LIMIT,
        description="A request's `max_workers` when it names none.",
    )
    max_file_bytes: int = Field(
        default=5 * 1024**3,
        ge=0,
        description="Larger files fail with `too_large` (claimed or read).",
    )
    allowed_content_types: CommaList = Field(
        default_factory=list, description="MIME types or `type/*`; empty = any."
    )
    sse: ServerSideEncryption = Field(
        default=ServerSideEncryption.AES256,
        description="Encryption at rest: `AES256`, `aws:kms` or `none`.",
    )
    sse_kms_key_id: str | None = Field(
        default=None, description="KMS key for `aws:kms` (default: the bucket's AWS-managed key)."
    )
    multipart_threshold_bytes: int = Field(
        default=16 * 1024**2,
        ge=5 * 1024**2,
        description="Files above it are uploaded in parts (memory stays flat).",
    )
    multipart_part_bytes: int = Field(
        default=8 * 1024**2,
        ge=5 * 1024**2,
        description="Part size; also the most one file holds in memory.",
    )
    retry_max_attempts: int = Field(
        default=6,
        ge=1,
        le=20,
        description="Attempts per S3 call for throttling, timeouts and network errors (permanent "
        "errors are never retried).",
    )
    retry_base_delay_s: float = Field(
        default=0.1, gt=0, description="Exponential backoff with full jitter starts here…"
    )
    retry_max_delay_s: float = Field(default=5.0, gt=0, description="…and is capped here.")
    s3_connect_timeout_s: float = Field(
        default=5.0, gt=0, description="Seconds to open a connection to S3 before retrying."
    )
    s3_read_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="A stalled transfer past it is retried, then fails with `timeout`.",
    )
    s3_payload_signing: Literal["auto", "always"] = Field(
        default="auto",
        description="`auto`: sign request bodies in SigV4 only over plain HTTP; over HTTPS every "
        "object body already carries a signed SHA-256 checksum header that S3 "
        "verifies, so a second hash pass buys nothing. `always`: sign them anyway.",
    )
    s3_fast_put: bool = Field(
        default=True,
        description="Single PUTs (files up to the multipart threshold) after the first one to "
        "each bucket skip botocore's request pipeline: same URL as botocore used for "
        "that bucket, signed by botocore's own SigV4 signer, sent over a pool with "
        "botocore's TLS settings; ~0.5 ms instead of ~1.3 ms of CPU per PUT, which is"
        " what lets one process keep 32 files in flight at 50 ms RTT. Redirects, "
        "region errors, proxies, S3 Express and anything unusual go through botocore;"
        " errors and results are botocore's own. Never used with a client passed in "
        "(AWSService's). Turn it off (`false`) to rule it out when debugging S3 "
        "requests, or if botocore hooks or plugins of your own must see or change "
        "every PutObject.",
    )
    reuse_stored_objects: bool = Field(
        default=True,
        description="When a staged blob is gone (source_not_found), HEAD its destination "
        "key: an object already there with the claimed size and SHA-256 (its stored "
        "full-object checksum) is the file, so it succeeds without the source (listed in "
        "the result's `already_stored`). Keeps a redelivered or replayed request a success "
        "after its staged blobs were deleted; costs one HEAD only when a source is gone "
        "(and, first, for files of UPLOAD_STREAM_REUSE_HEAD_FIRST_BYTES or more).",
    )
    reuse_head_first_bytes: int = Field(
        default=16 * 1024**2,
        ge=0,
        description="Files of at least this many bytes (claimed) HEAD their destination key "
        "before the source is read, so a document sent twice is not transferred twice "
        "(listed in `already_stored`). One HEAD is small beside moving 16 MiB, but a HEAD "
        "before every small file halved the load test's files/s (76 vs 145), so smaller "
        "files HEAD only once their source is gone. 0: every file first. Needs "
        "UPLOAD_STREAM_REUSE_STORED_OBJECTS.",
    )
    executor: Literal["auto", "gevent", "threads"] = Field(
        default="auto",
        description="How files run concurrently: greenlets (needs gevent monkey-patching), "
        "OS threads, or auto: greenlets exactly when the socket module is patched.",
    )
    type_check: bool = Field(
        default=True,
        description="Compare each file's leading bytes (libmagic) with its declared "
        "content type: an executable, HTML or a script, a plain ZIP declared as an office "
        "document, or another known type than declared fails with content_type_mismatch; "
        "types libmagic does not know pass.",
    )
    clamd_address: str | None = Field(
        default=None,
        description="clamd to scan every file with before it becomes visible: "
        "`unix:///run/clamav/clamd.ctl` or `tcp://host:3310`; unset = no malware scan.",
    )
    clamd_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Longest any one exchange with clamd may take (a chunk sent, the "
        "verdict); past it the file fails with scan_failed (retryable).",
    )
    clamd_connect_timeout_s: float = Field(
        default=2.0,
        gt=0,
        description="How long connecting to clamd may take; past it the file fails with "
        "scan_failed (retryable).",
    )

    _split_lists = field_validator("allowed_buckets", "allowed_content_types", mode="before")(
        split_commas
    )

    @field_validator("clamd_address")
    @classmethod
    def _clamd_address_well_formed(cls, value: str | None) -> str | None:
        if value:
            from upload_engine.clamd import ClamdAddress

            ClamdAddress.parse(value)
        return value or None

    @model_validator(mode="after")
    def _default_bucket_is_allowed(self) -> EngineSettings:
        if self.default_bucket and not self.allowed_buckets:
            object.__setattr__(self, "allowed_buckets", [self.default_bucket])
        return self

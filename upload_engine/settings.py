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


class EngineSettings(BaseSettings):
    """What the upload engine needs; also all that `AWSService` needs in direct mode."""

    model_config = SettingsConfigDict(env_prefix="UPLOAD_STREAM_", frozen=True, extra="ignore")

    default_bucket: str | None = Field(
        default=None, description="Destination when a request names none (required to consume)."
    )
    allowed_buckets: CommaList = Field(
        default_factory=list, description="Destinations a request may name; default: the default."
    )
    staging_allowlist: CommaList = Field(
        default_factory=list,
        description="Roots blobs may be read from: `s3://bucket/prefix/` and `file:///dir/`.",
    )
    max_concurrency: int = Field(default=64, ge=1, le=1024)
    default_max_workers: int = Field(default=5, ge=1, le=MAX_WORKERS_LIMIT)
    max_file_bytes: int = Field(default=5 * 1024**3, ge=0)
    allowed_content_types: CommaList = Field(
        default_factory=list, description="MIME types or `type/*`; empty = any."
    )
    sse: ServerSideEncryption = ServerSideEncryption.AES256
    sse_kms_key_id: str | None = None
    multipart_threshold_bytes: int = Field(default=16 * 1024**2, ge=5 * 1024**2)
    multipart_part_bytes: int = Field(default=8 * 1024**2, ge=5 * 1024**2)
    retry_max_attempts: int = Field(default=6, ge=1, le=20)
    retry_base_delay_s: float = Field(default=0.1, gt=0)
    retry_max_delay_s: float = Field(default=5.0, gt=0)
    s3_connect_timeout_s: float = Field(default=5.0, gt=0)
    s3_read_timeout_s: float = Field(default=30.0, gt=0)
    s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    s3_payload_signing: Literal["auto", "always"] = Field(
        default="auto",
        description="SHA-256 of each request body in the SigV4 signature: always, or auto = "
        "only over plain HTTP. Over HTTPS each object body already carries a signed SHA-256 "
        "checksum header that S3 verifies, so signing the body too costs a second hash pass "
        "(~5 ms CPU per 8 MiB part) for nothing.",
    )
    s3_fast_put: bool = Field(
        default=True,
        description="Single PUTs (files up to the multipart threshold) after the first one "
        "to each bucket skip botocore's request pipeline: signed by botocore's own SigV4 "
        "signer to the URL botocore used, ~0.5 ms instead of ~1.3 ms of CPU per PUT. Turn "
        "off to send every request through botocore (to rule this path out when debugging, "
        "or with botocore hooks or plugins that change PutObject requests).",
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
    clamd_connect_timeout_s: float = Field(default=2.0, gt=0)

    _split = field_validator(
        "allowed_buckets", "staging_allowlist", "allowed_content_types", mode="before"
    )(split_commas)

    @field_validator("staging_allowlist")
    @classmethod
    def _staging_roots_well_formed(cls, value: list[str]) -> list[str]:
        for root in value:
            if not (root.startswith("s3://") or root.startswith("file:///")):
                raise ValueError(f"staging root must start with s3:// or file:///: {root[:80]!r}")
        return value

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

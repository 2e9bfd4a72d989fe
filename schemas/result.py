"""UploadResult v1: what the consumer publishes to the reply topic, one per request."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.codes import FileFailureCode, RequestErrorCode
from schemas.fields import (
    FILE_TYPE_KEYS,
    Message,
    Metadata,
    Name,
    NonNegativeInt,
    RequestId,
    SchemaVersion,
    Sha256Hex,
    Text,
    Timestamp,
    UserId,
)
from schemas.request import BlobRef

_WIRE = ConfigDict(strict=True, extra="ignore", frozen=True)


class ResultStatus(StrEnum):
    """`succeeded` (every file), `partial` (some), `failed` (none, or rejected)."""

    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"


class VerifiedBy(StrEnum):
    """How the stored object was shown to hold bytes whose sha256 is `sha256` (optional
    addition to v1). The engine hashes every byte it sends before S3 makes it visible;
    these say which check tied the stored object to that digest."""

    PUT_CHECKSUM = "put_checksum"
    """One PutObject carrying `x-amz-checksum-sha256` of the verified bytes; S3 rejects
    the write when the bytes it received differ."""
    PART_CHECKSUMS = "part_checksums"
    """A multipart upload: each part carried its own SHA-256 checksum, and the upload was
    completed only after the whole stream's sha256 matched."""
    COPY_CHECKSUM = "copy_checksum"
    """A server-side copy whose CopyObject answer reported the copy's SHA-256."""
    HEAD_CHECKSUM = "head_checksum"
    """A server-side copy that did not report one: HeadObject (ChecksumMode) of the copy."""
    READ_BACK = "read_back"
    """A server-side copy with no checksum reported or stored: read back and hashed."""


class StoredObject(BaseModel):
    """An uploaded file as it now exists in the destination bucket."""

    model_config = _WIRE

    bucket: Text
    key: Text
    size: NonNegativeInt
    sha256: Sha256Hex
    content_type: Text
    etag: Text
    version_id: Text | None = Field(description="null when the bucket is unversioned.")
    verified_by: VerifiedBy | None = Field(
        default=None,
        description="Optional addition to v1: which check tied the stored object to `sha256` "
        "(always written by this service; null or absent from older writers).",
    )

    @property
    def url(self) -> str:
        """`s3://bucket/key`, the value `urls` carries for this file."""
        return f"s3://{self.bucket}/{self.key}"


class FileFailure(BaseModel):
    """Why one file failed, and whether retrying it can help."""

    model_config = _WIRE

    code: FileFailureCode
    message: Message
    retryable: bool

    @classmethod
    def of(cls, code: FileFailureCode, message: str) -> FileFailure:
        """The way the service builds one, so `retryable` always follows the table."""
        return cls(code=code, message=message, retryable=code.retryable)

    @model_validator(mode="after")
    def _retryable_follows_code(self) -> FileFailure:
        if self.retryable is not self.code.retryable:
            raise ValueError(f"retryable must be {self.code.retryable} for {self.code.value}")
        return self


class RequestError(BaseModel):
    """Why a request was rejected as a whole."""

    model_config = _WIRE

    code: RequestErrorCode
    message: Message


def _additions_optional(schema: dict[str, Any]) -> None:
    # Every v1 field is always written; the project's additions stay optional for readers.
    schema["required"] = [name for name in schema.get("required", []) if name not in _ADDITIONS]


_ADDITIONS = frozenset({"failed_sources"})


class UploadResult(BaseModel):
    """The outcome of one UploadRequest (contract: UploadResult v1)."""

    model_config = ConfigDict(
        strict=True,
        extra="ignore",
        frozen=True,
        json_schema_serialization_defaults_required=True,
        json_schema_extra=_additions_optional,
    )

    schema_version: SchemaVersion = 1
    request_id: RequestId
    user_id: UserId
    file_category: Name = "general"
    attempt: Annotated[int, Field(ge=1)] = 1
    replay_of: RequestId | None = None
    metadata: Metadata = Field(default_factory=dict)
    bucket: Text = Field(description="The destination bucket used.")
    status: ResultStatus
    urls: dict[Name, str] = Field(
        default_factory=dict,
        json_schema_extra=FILE_TYPE_KEYS,
        description="`s3://bucket/key` of each uploaded file.",
    )
    objects: dict[Name, StoredObject] = Field(
        default_factory=dict, json_schema_extra=FILE_TYPE_KEYS
    )
    failures: dict[Name, FileFailure] = Field(
        default_factory=dict, json_schema_extra=FILE_TYPE_KEYS
    )
    error: RequestError | None = Field(
        default=None, description="Set when the request as a whole was rejected."
    )
    started_at: Timestamp
    finished_at: Timestamp
    duration_ms: NonNegativeInt
    failed_sources: dict[Name, BlobRef] = Field(
        default_factory=dict,
        json_schema_extra=FILE_TYPE_KEYS,
        description="Optional addition to v1: the BlobRef of each failed file, so a replay "
        "can re-request exactly those files without scanning the requests topic. Readers "
        "that do not know it ignore it.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> UploadResult:
        if set(self.urls) != set(self.objects):
            raise ValueError("urls and objects must name the same file types")
        if set(self.urls) & set(self.failures):
            raise ValueError("a file type cannot both succeed and fail")
        for file_type, obj in self.objects.items():
            if self.urls[file_type] != obj.url:
                raise ValueError(f"urls[{file_type}] does not match objects[{file_type}]")
        if self.error is not None and (self.urls or self.failures):
            raise ValueError("a rejected request has no per-file urls or failures")
        if not set(self.failed_sources) <= set(self.failures):
            raise ValueError("failed_sources may only name file types in failures")
        expected = status_for(
            uploaded=len(self.urls), failed=len(self.failures), rejected=self.error is not None
        )
        if self.status is not expected:
            raise ValueError(f"status {self.status.value!r} does not match urls and failures")
        return self


def status_for(*, uploaded: int, failed: int, rejected: bool = False) -> ResultStatus:
    """The contract's status rule: every file, some, or none (or rejected as a whole)."""
    if rejected or uploaded == 0:
        return ResultStatus.FAILED
    return ResultStatus.PARTIAL if failed else ResultStatus.SUCCEEDED

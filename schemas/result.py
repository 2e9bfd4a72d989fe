"""UploadResult v1: what the consumer publishes to the reply topic, one per request."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)

from schemas.codes import (
    FILE_FAILURE_CODE_PATTERN,
    KNOWN_FILE_FAILURE_CODES,
    FileFailureCode,
    RequestErrorCode,
    UnknownFileFailureCode,
)
from schemas.fields import (
    FILE_TYPE_KEYS,
    WIRE_MODEL_CONFIG,
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

_CODE = re.compile(FILE_FAILURE_CODE_PATTERN)


def _parse_failure_code(value: Any) -> FileFailureCode | UnknownFileFailureCode:
    if isinstance(value, FileFailureCode):
        return value
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise ValueError("must be a failure code: 1-64 chars of [a-z0-9_], starting with a letter")
    if value in KNOWN_FILE_FAILURE_CODES:
        return FileFailureCode(value)
    return UnknownFileFailureCode(value)


# Known codes as the enum; a newer writer's code as an UnknownFileFailureCode (see there).
FailureCode = Annotated[
    FileFailureCode | UnknownFileFailureCode,
    PlainValidator(_parse_failure_code),
    PlainSerializer(lambda code: code.value, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": sorted(KNOWN_FILE_FAILURE_CODES)},
                {
                    "type": "string",
                    "pattern": FILE_FAILURE_CODE_PATTERN,
                    "description": "A code added after this schema: readers treat the "
                    "failure as not retryable.",
                },
            ]
        }
    ),
]


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


class ScanVerdict(StrEnum):
    """The only verdict a stored object can carry: anything else fails the file."""

    CLEAN = "clean"


class ScanReport(BaseModel):
    """Project addition: the malware scan a stored object passed (whole file, by clamd)."""

    model_config = WIRE_MODEL_CONFIG

    scanner: Text = Field(description="The scanner and its version, e.g. `ClamAV 1.4.6`.")
    verdict: ScanVerdict = Field(
        description="`clean`: every byte was scanned and nothing was found. A file that "
        "was not scanned in full, or not clean, is a failure, never a stored object."
    )
    database_version: Text | None = Field(
        default=None,
        description="The signature database version and date clamd reported (its VERSION "
        "command), e.g. `27845/Tue Dec  1 08:27:15 2026`; null when it reported none.",
    )


class StoredObject(BaseModel):
    """An uploaded file as it now exists in the destination bucket."""

    model_config = WIRE_MODEL_CONFIG

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
    detected_content_type: Text | None = Field(
        default=None,
        description="Project addition (optional): the type the leading bytes were detected "
        "as (libmagic), which did not contradict `content_type`; null when the type check "
        "is off. `application/octet-stream` or `text/plain`: the detector did not know the "
        "type.",
    )
    scan: ScanReport | None = Field(
        default=None,
        description="Project addition (optional): the malware scan the file passed; null "
        "when scanning is off.",
    )

    @property
    def url(self) -> str:
        """`s3://bucket/key`, the value `urls` carries for this file."""
        return f"s3://{self.bucket}/{self.key}"


class FileFailure(BaseModel):
    """Why one file failed, and whether retrying it can help."""

    model_config = WIRE_MODEL_CONFIG

    code: FailureCode
    message: Message
    retryable: bool

    @model_validator(mode="before")
    @classmethod
    def _unknown_codes_are_not_retryable(cls, data: Any) -> Any:
        # The contract's evolution rule for readers: a code this version does not know is
        # a failure that is not retryable, whatever `retryable` the writer sent.
        if isinstance(data, dict) and data.get("code") not in KNOWN_FILE_FAILURE_CODES:
            return {**data, "retryable": False}
        return data

    @classmethod
    def of(cls, code: FileFailureCode | UnknownFileFailureCode, message: str) -> FileFailure:
        """The way the service builds one, so `retryable` always follows the table."""
        return cls(code=code, message=message, retryable=code.retryable)

    @model_validator(mode="after")
    def _retryable_follows_code(self) -> FileFailure:
        if self.retryable is not self.code.retryable:
            raise ValueError(f"retryable must be {self.code.retryable} for {self.code.value}")
        return self


class RequestError(BaseModel):
    """Why a request was rejected as a whole."""

    model_config = WIRE_MODEL_CONFIG

    code: RequestErrorCode
    message: Message


def _additions_optional(schema: dict[str, Any]) -> None:
    # Every v1 field is always written; the project's additions stay optional for readers.
    schema["required"] = [name for name in schema.get("required", []) if name not in _ADDITIONS]


_ADDITIONS = frozenset({"failed_sources", "already_stored"})


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

    already_stored: list[Name] = Field(
        default_factory=list,
        description="Optional addition to v1: the file types in `urls` whose object was "
        "already in the destination under its content-addressed key, verified by size and "
        "sha256, so the staged blob was not read (a redelivery, a replay, or the same "
        "document sent twice). Readers that do not know it ignore it.",
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
        if not set(self.already_stored) <= set(self.urls):
            raise ValueError("already_stored may only name file types in urls")
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

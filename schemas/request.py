"""UploadRequest v1 and BlobRef: what producers publish to `uploads.requests`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from schemas.fields import (
    DEFAULT_MAX_FILES_PER_REQUEST,
    MAX_METADATA_ENTRIES,
    MAX_METADATA_VALUE_BYTES,
    MAX_WORKERS_LIMIT,
    BlobUri,
    MimeType,
    Name,
    NonNegativeInt,
    RequestId,
    Sha256Hex,
    Timestamp,
    UserId,
)

# Strict: the wire has JSON types, and "12" is not a size. Unknown fields are ignored,
# as the contract requires of readers, so optional additions do not break us.
_WIRE = ConfigDict(strict=True, extra="ignore", frozen=True)

MAX_FILES_CONTEXT_KEY = "max_files_per_request"


class BlobRef(BaseModel):
    """A staged blob: the claim check the consumer redeems."""

    model_config = _WIRE

    uri: BlobUri = Field(description="`s3://bucket/key` or `file:///absolute/path`.")
    size: NonNegativeInt = Field(description="Bytes; must match what is read.")
    sha256: Sha256Hex = Field(description="64 lowercase hex chars of the content.")
    content_type: MimeType = Field(description="A MIME type, e.g. `image/jpeg`.")
    filename: str | None = Field(
        default=None, description="Original name; only its extension is used."
    )


Metadata = Annotated[dict[str, str], Field(max_length=MAX_METADATA_ENTRIES)]


class UploadRequest(BaseModel):
    """One user's batch of staged files to upload (contract: UploadRequest v1)."""

    model_config = _WIRE

    schema_version: Literal[1]
    request_id: RequestId = Field(description="The idempotency key.")
    user_id: UserId
    file_category: Name = "general"
    files: dict[Name, BlobRef] = Field(
        min_length=1,
        json_schema_extra={"maxProperties": DEFAULT_MAX_FILES_PER_REQUEST},
        description="file_type -> BlobRef; at most the consumer's max_files_per_request "
        f"(default {DEFAULT_MAX_FILES_PER_REQUEST}).",
    )
    bucket: str | None = Field(
        default=None, description="Must be in the consumer's allowed list; null = its default."
    )
    max_workers: Annotated[int, Field(ge=1, le=MAX_WORKERS_LIMIT)] | None = None
    reply_topic: str | None = Field(
        default=None, description="Must be in the consumer's allowed list; null = results topic."
    )
    created_at: Timestamp
    attempt: Annotated[int, Field(ge=1)] = 1
    replay_of: RequestId | None = None
    metadata: Metadata = Field(default_factory=dict)

    @field_validator("files", mode="before")
    @classmethod
    def _not_too_many_files(cls, value: Any, info: ValidationInfo) -> Any:
        # Counted before the entries are validated, so a 10,000-file request is
        # rejected as too_many_files however broken its entries are.
        limit = DEFAULT_MAX_FILES_PER_REQUEST
        if isinstance(info.context, dict):
            limit = int(info.context.get(MAX_FILES_CONTEXT_KEY, limit))
        if isinstance(value, dict) and len(value) > limit:
            raise PydanticCustomError(
                "too_many_files",
                "{count} files is more than the limit of {limit}",
                {"count": len(value), "limit": limit},
            )
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_values_small(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if len(item.encode("utf-8")) > MAX_METADATA_VALUE_BYTES:
                raise ValueError(f"value of {key[:64]!r} is over {MAX_METADATA_VALUE_BYTES} bytes")
        return value


def new_request_timestamp() -> datetime:
    """`created_at` for a request built now (UTC)."""
    return datetime.now(UTC)

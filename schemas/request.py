"""UploadRequest v1 and BlobRef: what producers publish to `uploads.requests`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from schemas.fields import (
    DEFAULT_MAX_FILES_PER_REQUEST,
    FILE_TYPE_KEYS,
    MAX_WORKERS_LIMIT,
    WIRE_MODEL_CONFIG,
    BlobUri,
    Metadata,
    MimeType,
    Name,
    NonNegativeInt,
    RequestId,
    SchemaVersion,
    Sha256Hex,
    Text,
    Timestamp,
    UserId,
)

MAX_FILES_CONTEXT_KEY = "max_files_per_request"

__all__ = ["MAX_FILES_CONTEXT_KEY", "BlobRef", "Metadata", "UploadRequest"]


class BlobRef(BaseModel):
    """A staged blob: the claim check the consumer redeems."""

    model_config = WIRE_MODEL_CONFIG

    uri: BlobUri = Field(description="`s3://bucket/key` or `file:///absolute/path`.")
    size: NonNegativeInt = Field(description="Bytes; must match what is read.")
    sha256: Sha256Hex = Field(description="64 lowercase hex chars of the content.")
    content_type: MimeType = Field(description="A MIME type, e.g. `image/jpeg`.")
    filename: Text | None = Field(
        default=None, description="Original name; only its extension is used."
    )


class UploadRequest(BaseModel):
    """One user's batch of staged files to upload (contract: UploadRequest v1)."""

    model_config = WIRE_MODEL_CONFIG

    schema_version: SchemaVersion
    request_id: RequestId = Field(description="The idempotency key.")
    user_id: UserId
    file_category: Name = "general"
    files: dict[Name, BlobRef] = Field(
        min_length=1,
        json_schema_extra={"maxProperties": DEFAULT_MAX_FILES_PER_REQUEST, **FILE_TYPE_KEYS},
        description="file_type -> BlobRef; at most the consumer's max_files_per_request "
        f"(default {DEFAULT_MAX_FILES_PER_REQUEST}).",
    )
    bucket: Text | None = Field(
        default=None, description="Must be in the consumer's allowed list; null = its default."
    )
    max_workers: Annotated[int, Field(ge=1, le=MAX_WORKERS_LIMIT)] | None = Field(
        default=None,
        description="The most files of this request in flight at once; null = consumer default.",
    )
    reply_topic: Text | None = Field(
        default=None, description="Must be in the consumer's allowed list; null = results topic."
    )
    created_at: Timestamp
    attempt: Annotated[int, Field(ge=1)] = Field(
        default=1, description="1 for a new request; the replay tool increments it."
    )
    replay_of: RequestId | None = Field(
        default=None, description="request_id of the event this one replays."
    )
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


def new_request_timestamp() -> datetime:
    """`created_at` for a request built now (UTC)."""
    return datetime.now(UTC)

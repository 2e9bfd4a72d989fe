"""Building contract-valid UploadRequests from a caller's arguments."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from producer_lib.errors import InvalidUploadError
from schemas import BlobRef, UploadRequest, describe_validation_error, new_request_timestamp


def new_request_id() -> str:
    """Random and unguessable; also the idempotency key the consumer deduplicates on."""
    return f"req-{uuid.uuid4()}"


def build_request(
    *,
    user_id: Any,
    files: Mapping[str, BlobRef],
    file_category: str = "general",
    max_workers: int | None = None,
    bucket: str | None = None,
    reply_topic: str | None = None,
    metadata: Mapping[str, str] | None = None,
    request_id: str | None = None,
) -> UploadRequest:
    """An UploadRequest v1, or InvalidUploadError naming the rule broken (never the value)."""
    try:
        return UploadRequest.model_validate(
            {
                "schema_version": 1,
                "request_id": request_id or new_request_id(),
                "user_id": user_id,
                "file_category": file_category,
                "files": dict(files),
                "bucket": bucket,
                "max_workers": max_workers,
                "reply_topic": reply_topic,
                "created_at": new_request_timestamp(),
                "metadata": dict(metadata or {}),
            },
            strict=False,
        )
    except ValidationError as exc:
        raise InvalidUploadError(f"invalid upload: {describe_validation_error(exc)}") from None


def check_names(user_id: Any, file_category: str, file_types: list[str]) -> None:
    """Reject bad names before anything is staged, using the contract's own rules."""
    probe = BlobRef(uri="file:///probe", size=0, sha256="0" * 64, content_type="a/b")
    build_request(
        user_id=user_id,
        files=dict.fromkeys(file_types, probe) or {"probe": probe},
        file_category=file_category,
    )


def normalised_user_id(user_id: Any) -> str:
    """The user id as the contract normalises it (a bad one is InvalidUploadError)."""
    probe = BlobRef(uri="file:///probe", size=0, sha256="0" * 64, content_type="a/b")
    return build_request(user_id=user_id, files={"probe": probe}).user_id

"""The consumer's UploadResult events: for an accepted request (from the engine's
outcome, `upload_engine.result`) and for a request rejected as a whole."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import (
    RequestError,
    RequestErrorCode,
    UploadRequest,
    UploadResult,
    status_for,
)
from upload_engine.model import UploadOutcome
from upload_engine.result import duration_ms, result_from_outcome


def result_for_request(
    request: UploadRequest, *, bucket: str, outcome: UploadOutcome
) -> UploadResult:
    """`result_from_outcome` with every echoed field taken from the request."""
    return result_from_outcome(
        request_id=request.request_id,
        user_id=request.user_id,
        file_category=request.file_category,
        bucket=bucket,
        outcome=outcome,
        attempt=request.attempt,
        replay_of=request.replay_of,
        metadata=request.metadata,
        sources=request.files,
    )


def rejected_result(
    *,
    request_id: str,
    user_id: str,
    bucket: str,
    code: RequestErrorCode,
    message: str,
    request: UploadRequest | None = None,
    received_at: datetime | None = None,
) -> UploadResult:
    """The failed result of a request rejected as a whole. Echoed fields come from the
    request when it was valid (policy rejections), else take their defaults."""
    now = datetime.now(UTC)
    started = received_at or now
    return UploadResult(
        request_id=request_id,
        user_id=user_id,
        file_category=request.file_category if request else "general",
        attempt=request.attempt if request else 1,
        replay_of=request.replay_of if request else None,
        metadata=dict(request.metadata) if request else {},
        bucket=bucket,
        status=status_for(uploaded=0, failed=0, rejected=True),
        error=RequestError(code=code, message=message),
        started_at=started,
        finished_at=now,
        duration_ms=duration_ms(started, now),
    )

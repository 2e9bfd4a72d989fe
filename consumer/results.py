"""Building UploadResult events: from an engine outcome, or for a rejected request.

Shared by the Kafka consumer and by `AWSService` in direct mode, so both report exactly
the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from schemas import (
    BlobRef,
    RequestError,
    RequestErrorCode,
    UploadRequest,
    UploadResult,
    status_for,
)
from upload_engine.model import UploadOutcome


def _duration_ms(started_at: datetime, finished_at: datetime) -> int:
    return max(0, round((finished_at - started_at).total_seconds() * 1000))


def result_from_outcome(
    *,
    request_id: str,
    user_id: str,
    file_category: str,
    bucket: str,
    outcome: UploadOutcome,
    attempt: int = 1,
    replay_of: str | None = None,
    metadata: Mapping[str, str] | None = None,
    sources: Mapping[str, BlobRef] | None = None,
) -> UploadResult:
    """The result of an accepted request. `sources` (the request's BlobRefs, when there are
    any) fills `failed_sources` for the files that failed, so replays need no topic scan."""
    now = datetime.now(UTC)
    started = outcome.started_at or now
    finished = outcome.finished_at or now
    failed_sources = {
        file_type: sources[file_type]
        for file_type in outcome.failures
        if sources is not None and file_type in sources
    }
    return UploadResult(
        request_id=request_id,
        user_id=user_id,
        file_category=file_category,
        attempt=attempt,
        replay_of=replay_of,
        metadata=dict(metadata or {}),
        bucket=bucket,
        status=status_for(uploaded=len(outcome.objects), failed=len(outcome.failures)),
        urls={file_type: obj.url for file_type, obj in outcome.objects.items()},
        objects=dict(outcome.objects),
        failures=dict(outcome.failures),
        started_at=started,
        finished_at=finished,
        duration_ms=_duration_ms(started, finished),
        failed_sources=failed_sources,
    )


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
        duration_ms=_duration_ms(started, now),
    )

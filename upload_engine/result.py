"""The engine's outcome as the contract's result: an `UploadResult` for an accepted request.

Shared by the Kafka consumer and by `AWSService` in direct mode, so both report exactly
the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from schemas import BlobRef, UploadResult, status_for
from upload_engine.model import UploadOutcome


def duration_ms(started_at: datetime, finished_at: datetime) -> int:
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
        duration_ms=duration_ms(started, finished),
        failed_sources=failed_sources,
    )

"""The replay plan: for each dead letter or failed result, publish a replay or say why not.

Pure: it takes what was read and returns decisions; publishing is `publisher`'s job, so
every rule here is unit-tested without Kafka.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from schemas import BlobRef, FileFailure, RequestErrorCode, UploadRequest, UploadResult
from upload_stream_cli.ops.dlq_reader import DlqRecord
from upload_stream_cli.ops.filters import RecordFilter
from upload_stream_cli.ops.history import History
from upload_stream_cli.ops.lineage import lineage_root, replay_request_id
from upload_stream_cli.ops.text import preview_bytes


class Outcome(StrEnum):
    PUBLISHED = "published"
    DRY_RUN = "dry_run"
    FAILED = "failed"
    SKIPPED_ALREADY_REPLAYED = "skipped_already_replayed"
    SKIPPED_SUCCEEDED_LATER = "skipped_succeeded_later"
    SKIPPED_PERMANENT = "skipped_permanent"
    SKIPPED_LIMIT = "skipped_limit"
    NOT_REPLAYABLE = "not_replayable"
    STILL_INVALID = "still_invalid"


@dataclass(frozen=True)
class Decision:
    """`replay` is set when the outcome is (to be) PUBLISHED, DRY_RUN or FAILED."""

    outcome: Outcome
    source: str  # where the failure was read: "dlq 1:42", "results 0:7"
    request_id: str | None
    user_id: str | None
    detail: str = ""
    replay: UploadRequest | None = None


@dataclass(frozen=True)
class PlanContext:
    """What every decision needs: what happened before, what was asked for, and now."""

    history: History
    selected: RecordFilter
    now: datetime
    include_permanent: bool = False


def _replay(
    *,
    root: str,
    attempt: int,
    user_id: str,
    file_category: str,
    files: Mapping[str, BlobRef],
    metadata: Mapping[str, str],
    now: datetime,
    bucket: str | None = None,
    max_workers: int | None = None,
    reply_topic: str | None = None,
) -> UploadRequest:
    return UploadRequest(
        schema_version=1,
        request_id=replay_request_id(root, attempt),
        user_id=user_id,
        file_category=file_category,
        files=dict(files),
        bucket=bucket,
        max_workers=max_workers,
        reply_topic=reply_topic,
        created_at=now,
        attempt=attempt,
        replay_of=root,
        metadata=dict(metadata),
    )


def _source(kind: str, record_partition: int, record_offset: int) -> str:
    return f"{kind} {record_partition}:{record_offset}"


def _dlq_rejected(item: DlqRecord, source: str) -> Decision:
    """A dead letter that does not decode now: report it, never re-publish it blindly."""
    error = item.decode_error
    if error is None or error.code is RequestErrorCode.INVALID_JSON:
        return Decision(
            Outcome.NOT_REPLAYABLE,
            source,
            item.request_id,
            item.user_id,
            f"undecodable value {preview_bytes(item.record.value)}",
        )
    return Decision(
        Outcome.STILL_INVALID,
        source,
        item.request_id,
        item.user_id,
        f"{error.code}: {error.message}",
    )


def plan_from_dlq(items: Iterable[DlqRecord], ctx: PlanContext) -> list[Decision]:
    """`items` are already filtered. Of one lineage only its latest attempt is replayed:
    an earlier attempt in the DLQ was replayed already, or there would be no later one."""
    decisions: list[Decision] = []
    latest: dict[str, tuple[int, int, DlqRecord]] = {}  # root -> (index, attempt, item)
    for item in items:
        source = _source("dlq", item.record.partition, item.record.offset)
        if item.request is None:
            decisions.append(_dlq_rejected(item, source))
            continue
        root = lineage_root(item.request.request_id, item.request.replay_of)
        if root in latest:
            index, attempt, kept = latest[root]
            if attempt > item.request.attempt:
                decisions.append(_superseded(item, source))
                continue
            decisions[index] = _superseded(kept, decisions[index].source)
        latest[root] = (len(decisions), item.request.attempt, item)
        decisions.append(_dlq_decision(item.request, root, source, ctx))
    return decisions


def _superseded(item: DlqRecord, source: str) -> Decision:
    return Decision(
        Outcome.SKIPPED_ALREADY_REPLAYED,
        source,
        item.request_id,
        item.user_id,
        "a later attempt of this lineage is in the DLQ",
    )


def _dlq_decision(request: UploadRequest, root: str, source: str, ctx: PlanContext) -> Decision:
    history, selected, now = ctx.history, ctx.selected, ctx.now
    ids = (request.request_id, request.user_id)
    if history.succeeded_after(root, request.attempt):
        return Decision(Outcome.SKIPPED_SUCCEEDED_LATER, source, *ids, "a later attempt succeeded")
    attempt = request.attempt + 1
    if replay_request_id(root, attempt) in history.replay_ids:
        return Decision(
            Outcome.SKIPPED_ALREADY_REPLAYED, source, *ids, "its replay is already published"
        )
    files = {t: request.files[t] for t in selected.selected_file_types(request.files)}
    replay = _replay(
        root=root,
        attempt=attempt,
        user_id=request.user_id,
        file_category=request.file_category,
        files=files,
        metadata=request.metadata,
        now=now,
        bucket=request.bucket,
        max_workers=request.max_workers,
        reply_topic=request.reply_topic,
    )
    return Decision(Outcome.PUBLISHED, source, *ids, replay=replay)


def _chosen_failures(
    result: UploadResult, selected: RecordFilter, include_permanent: bool
) -> tuple[list[str], list[str]]:
    """(file types to replay, file types that match but are permanent and not asked for)."""
    matching = [
        t
        for t in selected.selected_file_types(result.failures)
        if selected.match_code(result.failures[t].code.value)
    ]
    take_all = include_permanent or bool(selected.codes)

    def wanted(failure: FileFailure) -> bool:
        return take_all or failure.retryable

    chosen = [t for t in matching if wanted(result.failures[t])]
    return chosen, [t for t in matching if t not in chosen]


def _matches_result(result: UploadResult, root: str, selected: RecordFilter) -> bool:
    codes = [f.code.value for f in result.failures.values()]
    if result.error is not None:
        codes.append(result.error.code.value)
    return (
        selected.match_ids(request_ids=(result.request_id, root), user_id=result.user_id)
        and selected.match_time(result.finished_at)
        and (not selected.codes or any(selected.match_code(c) for c in codes))
        and (not selected.file_types or bool(selected.selected_file_types(result.failures)))
    )


def plan_from_results(ctx: PlanContext) -> list[Decision]:
    """One decision per lineage whose latest failed result matches `selected`."""
    decisions = []
    for root, state in ctx.history.lineages.items():
        failed = state.latest_failed
        if failed is None or not _matches_result(failed, root, ctx.selected):
            continue
        source = state.failed_source
        decisions.append(_result_decision(failed, root, source, ctx))
    return decisions


def _result_decision(failed: UploadResult, root: str, source: str, ctx: PlanContext) -> Decision:
    history = ctx.history
    ids = (failed.request_id, failed.user_id)
    if history.lineages[root].succeeded_later:
        return Decision(Outcome.SKIPPED_SUCCEEDED_LATER, source, *ids, "a later attempt succeeded")
    if failed.error is not None:
        return Decision(
            Outcome.NOT_REPLAYABLE,
            source,
            *ids,
            f"rejected as a whole ({failed.error.code}); replay it with --from dlq",
        )
    chosen, permanent = _chosen_failures(failed, ctx.selected, ctx.include_permanent)
    if not chosen:
        return Decision(
            Outcome.SKIPPED_PERMANENT,
            source,
            *ids,
            "only permanent failures ("
            + ", ".join(sorted({failed.failures[t].code.value for t in permanent}))
            + "); name them with --code or pass --include-permanent",
        )
    missing = [t for t in chosen if t not in failed.failed_sources]
    files = {t: failed.failed_sources[t] for t in chosen if t in failed.failed_sources}
    note = f"no failed_sources for {', '.join(missing)}" if missing else ""
    if not files:
        return Decision(Outcome.NOT_REPLAYABLE, source, *ids, note)
    attempt = history.lineages[root].latest.attempt + 1
    if replay_request_id(root, attempt) in history.replay_ids:
        return Decision(
            Outcome.SKIPPED_ALREADY_REPLAYED, source, *ids, "its replay is already published"
        )
    replay = _replay(
        root=root,
        attempt=attempt,
        user_id=failed.user_id,
        file_category=failed.file_category,
        files=files,
        metadata=failed.metadata,
        now=ctx.now,
        bucket=failed.bucket,
    )
    return Decision(Outcome.PUBLISHED, source, *ids, note, replay=replay)


def apply_limit(decisions: list[Decision], limit: int | None) -> list[Decision]:
    """Past `limit` replays, the rest become SKIPPED_LIMIT (reported, not sent)."""
    if limit is None:
        return decisions
    kept, out = 0, []
    for decision in decisions:
        if decision.outcome is Outcome.PUBLISHED:
            kept += 1
            if kept > limit:
                out.append(
                    Decision(
                        Outcome.SKIPPED_LIMIT,
                        decision.source,
                        decision.request_id,
                        decision.user_id,
                        f"over --limit {limit}",
                    )
                )
                continue
        out.append(decision)
    return out

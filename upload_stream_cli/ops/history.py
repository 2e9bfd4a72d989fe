"""What has already happened to each lineage, from one read of the requests and results.

Kept small for topics at scale: per lineage only the latest result and the latest failed
one (at most two), and from the requests topic only the ids of replays already published.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from schemas import ResultDecodeError, ResultStatus, UploadResult, decode_result, header
from schemas.codec import H_CORRELATION_ID
from upload_stream_cli.ops.lineage import lineage_root
from upload_stream_cli.ops.topics import TopicRecord

# Replay ids end in `.r{attempt}`; only those need remembering from the requests topic.
_REPLAY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,125}\.r[0-9]{1,9}$")


@dataclass
class LineageState:
    latest: UploadResult
    latest_failed: UploadResult | None = None
    failed_source: str = "results"  # where latest_failed was read, for the report

    @property
    def succeeded_later(self) -> bool:
        """The latest attempt succeeded after the latest failed one."""
        return self.latest.status is ResultStatus.SUCCEEDED and (
            self.latest_failed is None or self.latest.attempt > self.latest_failed.attempt
        )


def _newer(candidate: UploadResult, current: UploadResult | None) -> bool:
    # Ties (a redelivered result of the same attempt) go to the one read later: one
    # lineage shares a user_id key, hence one partition, so read order is write order.
    return current is None or candidate.attempt >= current.attempt


@dataclass
class History:
    lineages: dict[str, LineageState] = field(default_factory=dict)
    replay_ids: set[str] = field(default_factory=set)
    unreadable_results: int = 0

    def add_result(self, record: TopicRecord) -> None:
        try:
            result = decode_result(record.value)
        except ResultDecodeError:
            self.unreadable_results += 1
            return
        root = lineage_root(result.request_id, result.replay_of)
        state = self.lineages.get(root)
        if state is None:
            state = self.lineages[root] = LineageState(latest=result)
        elif _newer(result, state.latest):
            state.latest = result
        if result.status is not ResultStatus.SUCCEEDED and _newer(result, state.latest_failed):
            state.latest_failed = result
            state.failed_source = f"results {record.partition}:{record.offset}"

    def add_request(self, record: TopicRecord) -> None:
        # The header is a cheap pre-filter; the value's request_id is what the consumer
        # dedupes on, so that is what is remembered.
        claimed = header(record.headers, H_CORRELATION_ID)
        if claimed is not None and not _REPLAY_ID.fullmatch(claimed):
            return
        try:
            data = json.loads(record.value or b"")
        except (ValueError, RecursionError):
            return
        request_id = data.get("request_id") if isinstance(data, dict) else None
        if isinstance(request_id, str) and _REPLAY_ID.fullmatch(request_id):
            self.replay_ids.add(request_id)

    def succeeded_after(self, root: str, attempt: int) -> bool:
        state = self.lineages.get(root)
        return (
            state is not None
            and state.latest.status is ResultStatus.SUCCEEDED
            and state.latest.attempt > attempt
        )

"""Carrying out a replay plan: rate-limited publishes, a report line per decision, counts.

Each line is printed when its outcome is known (for a publish: when the broker
acknowledged it or failed), through `Progress.write` so a bar on stderr stays intact.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any, TextIO

from upload_stream_cli.ops.progress import Progress
from upload_stream_cli.ops.publisher import Sender
from upload_stream_cli.ops.ratelimit import TokenBucket
from upload_stream_cli.ops.render import to_json
from upload_stream_cli.ops.replay import Decision, Outcome
from upload_stream_cli.ops.text import escape_text

# The summary always lists these, zero or not, in this order; scripts can rely on it.
SUMMARY_ORDER = [o.value for o in Outcome]


def decision_object(decision: Decision) -> dict[str, Any]:
    return {
        "type": "decision",
        "outcome": decision.outcome.value,
        "source": decision.source,
        "request_id": decision.request_id,
        "user_id": decision.user_id,
        "detail": decision.detail,
        "replay": decision.replay.model_dump(mode="json") if decision.replay else None,
    }


def decision_line(decision: Decision) -> str:
    parts = [
        f"{decision.outcome.value:<24}",
        decision.source,
        f"request={escape_text(decision.request_id or '-')}",
        f"user={escape_text(decision.user_id or '-')}",
    ]
    replay = decision.replay
    if replay is not None:
        parts.append(
            f"-> {replay.request_id} attempt={replay.attempt} replay_of={replay.replay_of} "
            f"files={','.join(sorted(replay.files))} bucket={escape_text(replay.bucket or '-')}"
        )
    if decision.detail:
        parts.append(escape_text(decision.detail, 300))
    return "  ".join(parts)


class Executor:
    def __init__(
        self,
        *,
        publisher: Sender | None,
        rate: TokenBucket | None,
        progress: Progress,
        out: TextIO,
        as_json: bool,
    ) -> None:
        """`publisher` None is a dry run: replays are reported as `dry_run`, never sent."""
        self._publisher = publisher
        self._rate = rate
        self._progress = progress
        self._out = out
        self._json = as_json

    def run(self, decisions: list[Decision]) -> Counter[str]:
        try:
            for decision in decisions:
                self._one(decision)
        finally:
            if self._publisher is not None:
                self._publisher.finish()
            self._progress.close()
        return self._progress.counts

    def _one(self, decision: Decision) -> None:
        if decision.outcome is not Outcome.PUBLISHED or decision.replay is None:
            self._report(decision)
        elif self._publisher is None:
            self._report(dataclasses.replace(decision, outcome=Outcome.DRY_RUN))
        else:
            if self._rate is not None:
                self._rate.acquire()

            def done(error: str | None) -> None:
                if error is None:
                    self._report(decision)
                else:
                    failed = dataclasses.replace(decision, outcome=Outcome.FAILED, detail=error)
                    self._report(failed)

            self._publisher.send(decision.replay, done)

    def _report(self, decision: Decision) -> None:
        line = to_json(decision_object(decision)) if self._json else decision_line(decision)
        self._progress.write(line, self._out)
        self._progress.add(decision.outcome.value)


def summary_counts(counts: Counter[str]) -> dict[str, int]:
    return {name: counts.get(name, 0) for name in SUMMARY_ORDER}

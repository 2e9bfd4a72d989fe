"""Carrying out a plan: dry runs send nothing, failures count, the bar stays off pipes."""

import io
import json
from datetime import UTC, datetime

from schemas import UploadRequest
from upload_stream_cli.ops.execute import Executor, summary_counts
from upload_stream_cli.ops.progress import Progress
from upload_stream_cli.ops.publisher import Done
from upload_stream_cli.ops.ratelimit import TokenBucket
from upload_stream_cli.ops.replay import Decision, Outcome

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def replay(request_id: str) -> UploadRequest:
    return UploadRequest.model_validate(
        {
            "schema_version": 1,
            "request_id": f"{request_id}.r2",
            "user_id": "u1",
            "files": {
                "id": {
                    "uri": "s3://staging-bucket/a.jpg",
                    "size": 1,
                    "sha256": "0" * 64,
                    "content_type": "image/jpeg",
                }
            },
            "created_at": NOW,
            "attempt": 2,
            "replay_of": request_id,
        }
    )


def plan() -> list[Decision]:
    return [
        Decision(Outcome.PUBLISHED, "results 0:1", "a", "u1", replay=replay("a")),
        Decision(Outcome.NOT_REPLAYABLE, "results 0:2", "b", "u1", "no failed_sources for id"),
        Decision(Outcome.PUBLISHED, "results 1:0", "c", "u1", replay=replay("c")),
    ]


class FakePublisher:
    def __init__(self, fail: set[str]) -> None:
        self.fail = fail
        self.sent: list[str] = []
        self.waiting: list[tuple[str, Done]] = []

    def send(self, request: UploadRequest, done: Done) -> None:
        self.sent.append(request.request_id)
        self.waiting.append((request.request_id, done))

    def finish(self, timeout_s: float = 60.0) -> None:
        for request_id, done in self.waiting:
            done("Broker: not enough replicas" if request_id in self.fail else None)


def run(publisher: FakePublisher | None, *, tty: bool = False, as_json: bool = False):  # type: ignore[no-untyped-def]
    out, err = io.StringIO(), io.StringIO()
    counts = Executor(
        publisher=publisher,
        rate=None,
        progress=Progress(3, err, enabled=tty),
        out=out,
        as_json=as_json,
    ).run(plan())
    return summary_counts(counts), out.getvalue(), err.getvalue()


def test_dry_run_sends_nothing_and_reports_each_replay() -> None:
    summary, out, err = run(None)
    assert summary["dry_run"] == 2
    assert summary["published"] == 0
    assert summary["not_replayable"] == 1
    assert out.splitlines() == [
        "dry_run                   results 0:1  request=a  user=u1  -> a.r2 attempt=2 "
        "replay_of=a files=id bucket=-",
        "not_replayable            results 0:2  request=b  user=u1  no failed_sources for id",
        "dry_run                   results 1:0  request=c  user=u1  -> c.r2 attempt=2 "
        "replay_of=c files=id bucket=-",
    ]
    assert err == ""


def test_publish_failures_are_counted_and_reported() -> None:
    publisher = FakePublisher(fail={"c.r2"})
    summary, out, _ = run(publisher, as_json=True)
    assert publisher.sent == ["a.r2", "c.r2"]
    assert summary == {
        "published": 1,
        "dry_run": 0,
        "failed": 1,
        "skipped_already_replayed": 0,
        "skipped_succeeded_later": 0,
        "skipped_permanent": 0,
        "skipped_limit": 0,
        "not_replayable": 1,
        "still_invalid": 0,
    }
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(o["outcome"], o["request_id"], o["detail"]) for o in lines] == [
        ("not_replayable", "b", "no failed_sources for id"),
        ("published", "a", ""),
        ("failed", "c", "Broker: not enough replicas"),
    ]
    assert lines[1]["replay"]["request_id"] == "a.r2"
    assert lines[1]["replay"]["replay_of"] == "a"


def test_bar_on_a_terminal_is_cleared_before_each_line() -> None:
    _, out, err = run(None, tty=True)
    assert len(out.splitlines()) == 3
    assert "\r" not in out
    # Redrawn after each line with the counts so far, and blanked at the end.
    assert "| 2/3 [" in err
    assert "dry_run=1 not_replayable=1]" in err
    assert err.endswith("\r")
    assert err.rsplit("\r", 2)[-2].strip() == ""


def test_no_bar_off_a_terminal() -> None:
    err, out = io.StringIO(), io.StringIO()
    progress = Progress(2, err)  # StringIO is no terminal
    progress.write("line", out)
    progress.add("dry_run")
    progress.close()
    assert (err.getvalue(), out.getvalue(), progress.counts["dry_run"]) == ("", "line\n", 1)


def test_rate_limit_is_taken_before_each_publish() -> None:
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    bucket = TokenBucket(2.0, clock=lambda: clock[0], sleep=sleep)
    publisher = FakePublisher(fail=set())
    Executor(
        publisher=publisher,
        rate=bucket,
        progress=Progress(3, io.StringIO(), enabled=False),
        out=io.StringIO(),
        as_json=False,
    ).run(plan())
    assert publisher.sent == ["a.r2", "c.r2"]
    assert clock[0] == 0.5

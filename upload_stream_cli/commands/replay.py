"""`upload-stream replay --from dlq|results`: re-publish failed work, once.

One read pass over the requests and results topics (and the DLQ with `--from dlq`)
builds what happened to each lineage; the plan is computed from that; then replays are
published (idempotent producer, acks=all) at `--rate`, unless `--dry-run`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from consumer.settings import RequestLimits
from kafka_config.connection import KafkaConnection
from kafka_config.topics import Topics
from schemas import FileFailureCode, RequestErrorCode
from upload_stream_cli.errors import EXIT_FAILURE, EXIT_OK, UsageError
from upload_stream_cli.ops.cli_args import (
    add_filter_arguments,
    build_filter,
    positive_float,
    positive_int,
)
from upload_stream_cli.ops.dlq_reader import read_dlq
from upload_stream_cli.ops.errors import OpsError
from upload_stream_cli.ops.execute import Executor, summary_counts
from upload_stream_cli.ops.history import History
from upload_stream_cli.ops.progress import Progress
from upload_stream_cli.ops.publisher import ReplayPublisher
from upload_stream_cli.ops.ratelimit import TokenBucket
from upload_stream_cli.ops.render import to_json
from upload_stream_cli.ops.replay import (
    Decision,
    Outcome,
    PlanContext,
    apply_limit,
    plan_from_dlq,
    plan_from_results,
)
from upload_stream_cli.ops.topics import read_to_end

_CODES = {
    "dlq": [c.value for c in RequestErrorCode],
    "results": [c.value for c in FileFailureCode],
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="re-publish failed work from the DLQ or from failed results",
        description="Re-publish failed work as new requests (new request_id "
        "'{original}.r{attempt}', attempt + 1, replay_of = the original request_id). "
        "Safe to run twice: lineages already replayed, or that succeeded later, are skipped.",
    )
    parser.add_argument(
        "--from",
        dest="source",
        choices=sorted(_CODES),
        required=True,
        help="dlq: dead-lettered requests that decode now; results: the failed files of "
        "failed or partial results (from their failed_sources)",
    )
    add_filter_arguments(
        parser,
        code_help="with --from dlq a reason code; with --from results a file failure code "
        "(naming one also takes its permanent failures)",
    )
    parser.add_argument(
        "--include-permanent",
        action="store_true",
        help="with --from results: replay permanent failures too (default: retryable only)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print what would be sent")
    parser.add_argument("--limit", type=positive_int, metavar="N", help="publish at most N")
    parser.add_argument(
        "--rate", type=positive_float, metavar="N", help="publish at most N requests per second"
    )
    parser.set_defaults(handler=_replay)


def _history(args: argparse.Namespace, topics: Topics, conn: dict[str, str]) -> History:
    history = History()
    for record in read_to_end(conn, topics.requests_topic, timeout_s=args.timeout):
        history.add_request(record)
    for record in read_to_end(conn, topics.results_topic, timeout_s=args.timeout):
        history.add_result(record)
    return history


def _plan(args: argparse.Namespace, topics: Topics, conn: dict[str, str]) -> list[Decision]:
    selected = build_filter(args, _CODES[args.source])
    # Read before any topic is, so a bad value exits 2 before connecting; dlq only.
    limits = RequestLimits() if args.source == "dlq" else None
    ctx = PlanContext(
        history=_history(args, topics, conn),
        selected=selected,
        now=datetime.now(UTC),
        include_permanent=args.include_permanent,
    )
    if limits is None:
        return plan_from_results(ctx)
    dlq = read_to_end(conn, topics.dlq_topic, timeout_s=args.timeout)
    items = read_dlq(dlq, selected, max_files_per_request=limits.max_files_per_request)
    return plan_from_dlq(items, ctx)


def _replay(args: argparse.Namespace) -> int:
    if args.include_permanent and args.source != "results":
        raise UsageError("--include-permanent applies to --from results only")
    conn = KafkaConnection().librdkafka()
    topics = Topics()
    try:
        decisions = apply_limit(_plan(args, topics, conn), args.limit)
        publisher = None
        if not args.dry_run and any(d.outcome is Outcome.PUBLISHED for d in decisions):
            publisher = ReplayPublisher(conn, topics.requests_topic)
        counts = Executor(
            publisher=publisher,
            rate=TokenBucket(args.rate) if args.rate else None,
            progress=Progress(len(decisions), sys.stderr),
            out=sys.stdout,
            as_json=args.json,
        ).run(decisions)
    except OpsError as exc:
        print(f"upload-stream replay: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    summary = summary_counts(counts)
    if args.json:
        print(to_json({"type": "summary", "from": args.source, "counts": summary}))
    text = " ".join(f"{name}={n}" for name, n in summary.items())
    print(f"replay from {args.source}: {text}", file=sys.stderr)
    return EXIT_FAILURE if summary[Outcome.FAILED.value] else EXIT_OK

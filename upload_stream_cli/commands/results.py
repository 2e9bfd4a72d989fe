"""`upload-stream results`: print result events (`--follow` tails them).

Reads every partition of the results topic without joining a group, so it never moves a
KYC service's offsets. Unreadable events are reported on stderr and skipped.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from upload_stream_cli.errors import EXIT_FAILURE, EXIT_OK, UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "results",
        help="print result events (--follow tails them)",
        description="Print UploadResult events from the results topic "
        "(UPLOAD_STREAM_RESULTS_TOPIC, default uploads.results). By default the last "
        "--last events of each partition, then exit; --from-beginning starts at the oldest; "
        "--follow keeps printing new events until Ctrl-C.",
    )
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    parser.add_argument(
        "--from-beginning", action="store_true", help="start at the oldest event kept"
    )
    parser.add_argument(
        "--last", type=int, default=10, metavar="N", help="events per partition (default 10)"
    )
    parser.add_argument("--request-id", metavar="ID", help="only the result of this request")
    parser.add_argument("--json", action="store_true", help="one JSON event per line")
    parser.set_defaults(handler=_results)


def format_result(result: Any) -> str:
    """A few readable lines: the request, its status, then one line per file."""
    lines = [
        f"{result.request_id}  user {result.user_id}  {result.file_category}  "
        f"{result.status.value}  {result.duration_ms} ms  finished "
        f"{result.finished_at.isoformat(timespec='seconds')}"
    ]
    if result.error is not None:
        lines.append(f"  rejected: {result.error.code.value}: {result.error.message}")
    for file_type, obj in sorted(result.objects.items()):
        lines.append(f"  {file_type}: {obj.url} ({obj.size} bytes)")
    for file_type, failure in sorted(result.failures.items()):
        retry = "retryable" if failure.retryable else "not retryable"
        lines.append(f"  {file_type}: FAILED {failure.code.value} ({retry}): {failure.message}")
    return "\n".join(lines)


def print_result(result: Any, *, as_json: bool) -> None:
    if as_json:
        print(result.model_dump_json(), flush=True)
    else:
        print(format_result(result), flush=True)


def _results(args: argparse.Namespace) -> int:
    from kafka_config.connection import KafkaConnection
    from kafka_config.topics import ResultsTopic
    from producer_lib.errors import ReplyChannelError
    from producer_lib.reader import UnreadableResult, tail_results

    if args.last < 0:
        raise UsageError("--last must be 0 or more")
    topic = ResultsTopic().results_topic

    def report(bad: UnreadableResult) -> None:
        print(
            f"skipping unreadable event at {bad.topic}[{bad.partition}]@{bad.offset}: {bad.reason}",
            file=sys.stderr,
        )

    try:
        for result in tail_results(
            KafkaConnection().librdkafka(),
            topic=topic,
            from_beginning=args.from_beginning,
            last=args.last,
            follow=args.follow,
            on_error=report,
        ):
            if args.request_id is None or result.request_id == args.request_id:
                print_result(result, as_json=args.json)
    except ReplyChannelError as exc:
        print(f"upload-stream results: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK

"""Arguments shared by `upload-stream dlq` and `upload-stream replay`, and their checks.

argparse rejects malformed flags itself (exit 2); the checks that need context (which
codes exist, times in order) raise `UsageError`, which is exit 2 with one line.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from upload_stream_cli.errors import UsageError
from upload_stream_cli.ops.filters import RecordFilter, parse_time

DEFAULT_READ_TIMEOUT_S = 60.0


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a finite number above 0")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def add_filter_arguments(parser: argparse.ArgumentParser, *, code_help: str) -> None:
    group = parser.add_argument_group("filters (repeat a flag to match any of its values)")
    group.add_argument("--code", action="append", default=[], metavar="CODE", help=code_help)
    group.add_argument(
        "--request-id",
        action="append",
        default=[],
        metavar="ID",
        help="this request id, or any replay of it",
    )
    group.add_argument("--user-id", action="append", default=[], metavar="ID")
    group.add_argument("--file-type", action="append", default=[], metavar="TYPE")
    group.add_argument(
        "--since",
        metavar="TIME",
        help="RFC 3339 (2026-01-31T12:00:00Z) or an age: 90s, 15m, 2h, 7d, 1w",
    )
    group.add_argument("--until", metavar="TIME", help="same forms as --since")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=DEFAULT_READ_TIMEOUT_S,
        metavar="SECONDS",
        help=f"give up reading a topic after this long (default {DEFAULT_READ_TIMEOUT_S:.0f})",
    )


def build_filter(args: argparse.Namespace, valid_codes: Iterable[str]) -> RecordFilter:
    known = set(valid_codes)
    unknown = [c for c in args.code if c not in known]
    if unknown:
        raise UsageError(f"unknown --code {unknown[0][:40]!r}; one of: {', '.join(sorted(known))}")
    since = parse_time(args.since) if args.since else None
    until = parse_time(args.until) if args.until else None
    if since and until and since > until:
        raise UsageError("--since is later than --until")
    return RecordFilter(
        codes=frozenset(args.code),
        request_ids=frozenset(args.request_id),
        user_ids=frozenset(args.user_id),
        file_types=frozenset(args.file_type),
        since=since,
        until=until,
    )

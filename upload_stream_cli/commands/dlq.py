"""`upload-stream dlq list|show`: what is in the dead-letter topic, and why.

Reads the DLQ from its beginning to the current end with `assign()` and no consumer
group, then stops: inspecting never moves anyone's offsets.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

from consumer.settings import RequestLimits
from kafka_config.connection import KafkaConnection
from kafka_config.topics import DlqTopic
from schemas import RequestErrorCode
from upload_stream_cli.commands import add_command_with_actions
from upload_stream_cli.errors import EXIT_FAILURE, EXIT_OK, UsageError
from upload_stream_cli.ops.cli_args import add_filter_arguments, build_filter
from upload_stream_cli.ops.dlq_reader import UNKNOWN_CODE, DlqRecord, read_dlq
from upload_stream_cli.ops.errors import OpsError
from upload_stream_cli.ops.render import (
    counts_lines,
    counts_object,
    dlq_detail,
    dlq_line,
    dlq_object,
    to_json,
)
from upload_stream_cli.ops.topics import read_to_end

_POSITION = re.compile(r"^([0-9]{1,6}):([0-9]{1,19})$")
DLQ_CODES = [c.value for c in RequestErrorCode] + [UNKNOWN_CODE]


def register(subparsers: Any) -> None:
    actions = add_command_with_actions(
        subparsers,
        "dlq",
        help="list and show dead-lettered events with their reasons",
        description="Inspect the dead-letter topic (UPLOAD_STREAM_DLQ_TOPIC). Reads it to "
        "its current end without a consumer group; nobody's offsets move.",
    )
    listing = actions.add_parser("list", help="one line per record, then counts by reason code")
    listing.add_argument("--counts", action="store_true", help="only the counts")
    listing.set_defaults(handler=_list)
    show = actions.add_parser("show", help="every field and header of the matching records")
    show.add_argument(
        "--at",
        action="append",
        default=[],
        metavar="PARTITION:OFFSET",
        help="only the record at this DLQ position (repeatable)",
    )
    show.set_defaults(handler=_show)
    code_help = f"reason code: {', '.join(DLQ_CODES)}"
    for sub in (listing, show):
        add_filter_arguments(sub, code_help=code_help)


def _read(args: argparse.Namespace) -> Iterator[DlqRecord]:
    selected = build_filter(args, DLQ_CODES)
    limits = RequestLimits()
    records = read_to_end(
        KafkaConnection().librdkafka(), DlqTopic().dlq_topic, timeout_s=args.timeout
    )
    return read_dlq(records, selected, max_files_per_request=limits.max_files_per_request)


def _list(args: argparse.Namespace) -> int:
    # Streamed, so a large DLQ is listed in constant memory; partitions are read
    # interleaved, and each line starts with its PARTITION:OFFSET.
    counts: Counter[str] = Counter()
    try:
        for item in _read(args):
            counts[item.code] += 1
            if not args.counts:
                print(to_json(dlq_object(item)) if args.json else dlq_line(item))
    except OpsError as exc:
        print(f"upload-stream dlq: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(to_json(counts_object(counts)))
    else:
        print("\n".join(counts_lines(counts)))
    return EXIT_OK


def _positions(texts: list[str]) -> set[tuple[int, int]]:
    found = set()
    for text in texts:
        match = _POSITION.fullmatch(text)
        if match is None:
            raise UsageError(f"--at {text[:30]!r} is not PARTITION:OFFSET, e.g. 0:42")
        found.add((int(match.group(1)), int(match.group(2))))
    return found


def _show(args: argparse.Namespace) -> int:
    wanted = _positions(args.at)
    try:
        items = [
            i for i in _read(args) if not wanted or (i.record.partition, i.record.offset) in wanted
        ]
    except OpsError as exc:
        print(f"upload-stream dlq: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    for item in items:
        if args.json:
            print(to_json(dlq_object(item, detail=True)))
        else:
            print("\n".join(dlq_detail(item)))
    if not items and not args.json:
        print("no matching records", file=sys.stderr)
    return EXIT_OK

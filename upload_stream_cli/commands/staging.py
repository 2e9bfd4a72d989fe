"""`upload-stream staging sweep --older-than DURATION [--dry-run] [--json]`.

Deletes staged blobs past their retention under every root of
UPLOAD_STREAM_STAGING_ALLOWLIST (and UPLOAD_STREAM_STAGING_URI), and aborts incomplete
multipart uploads older than the same threshold there and in the destination buckets
(UPLOAD_STREAM_DEFAULT_BUCKET, UPLOAD_STREAM_ALLOWED_BUCKETS). See docs/runbook.md,
"Staging is growing".
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from upload_stream_cli.commands import add_command_with_actions
from upload_stream_cli.errors import EXIT_FAILURE, EXIT_OK, UsageError

_AGE = re.compile(r"^\d{1,9}[smhdw]$")


def register(subparsers: Any) -> None:
    actions = add_command_with_actions(
        subparsers,
        "staging",
        help="maintain the staging area (sweep)",
        description="Maintain the staging area that producers stage blobs into.",
    )
    sweep = actions.add_parser(
        "sweep",
        help="delete staged blobs and abort multipart uploads older than a threshold",
        description="Delete staged blobs older than --older-than under every staging root "
        "(tickets never submitted, failed files past their replay window, deletes that "
        "failed), and abort incomplete multipart uploads older than it in the staging roots "
        "and the destination buckets. Only names written by upload-stream's stagers and "
        "tickets are touched. Shows a progress bar on a terminal and prints a summary. "
        "Exit status: 0 done, 1 some deletes failed, 2 bad arguments or configuration.",
    )
    sweep.add_argument(
        "--older-than",
        required=True,
        metavar="DURATION",
        help="an age: 90s, 15m, 36h, 7d, 2w (keep at least your replay window)",
    )
    sweep.add_argument("--dry-run", action="store_true", help="list counts, delete nothing")
    sweep.add_argument("--json", action="store_true", help="print the summary as JSON")
    sweep.set_defaults(handler=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    from producer_lib.settings import ProducerSettings
    from upload_engine.settings import EngineSettings
    from upload_stream_cli.ops.filters import parse_time
    from upload_stream_cli.ops.progress import Progress
    from upload_stream_cli.ops.sweep import SweepReport, execute, plan

    if not _AGE.fullmatch(args.older_than.strip()):
        raise UsageError(f"--older-than {args.older_than[:20]!r}: use an age like 15m, 36h, 7d")
    cutoff = parse_time(args.older_than)
    engine, producer = EngineSettings(), ProducerSettings()
    roots = list(dict.fromkeys([*engine.staging_allowlist, producer.staging_uri or ""]))
    roots = [root for root in roots if root]
    if not roots:
        raise UsageError("no staging root: set UPLOAD_STREAM_STAGING_ALLOWLIST")
    destinations = list(dict.fromkeys([engine.default_bucket or "", *engine.allowed_buckets]))
    client = _client() if any(r.startswith("s3://") for r in roots) else None
    items = plan(roots, [b for b in destinations if b], cutoff=cutoff, client=client)
    report = SweepReport(cutoff=cutoff.isoformat(), dry_run=args.dry_run, roots=roots)
    progress = Progress(len(items), sys.stderr)
    try:
        execute(items, report, client=client, on_item=progress.add)
    finally:
        progress.close()
    if args.json:
        print(json.dumps(report.as_json(), sort_keys=True))
    else:
        dry = args.dry_run
        done = report.found if dry else report.done
        print(
            f"staging sweep (older than {args.older_than}): "
            f"{'would delete' if dry else 'deleted'} {done.get('blob', 0) + done.get('file', 0)} "
            f"staged blobs ({report.bytes_found if dry else report.bytes_deleted} bytes), "
            f"{'would abort' if dry else 'aborted'} {done.get('multipart', 0)} incomplete "
            f"multipart uploads; failed: {sum(report.failed.values())}"
        )
    return EXIT_FAILURE if report.failed else EXIT_OK


def _client() -> Any:
    from producer_lib.s3_staging import default_s3_client

    return default_s3_client()

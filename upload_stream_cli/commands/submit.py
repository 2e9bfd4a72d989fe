"""`upload-stream submit USER_ID file_type=path ...`: stage files, publish one request.

Prints the request id (or, with `--wait`, the result). Exit status: 0 when published
(with `--wait`: when every file was uploaded), 1 on a failed or partial result, a
publish failure or a timeout, 2 on bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from upload_stream_cli.errors import EXIT_FAILURE, EXIT_OK, UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "submit",
        help="stage files and publish one upload request",
        description="Stage each file (UPLOAD_STREAM_STAGING_URI, default: the first root of "
        "UPLOAD_STREAM_STAGING_ALLOWLIST) and publish one UploadRequest to "
        "UPLOAD_STREAM_REQUESTS_TOPIC. Prints the request id; --wait waits for its result "
        "on UPLOAD_STREAM_RESULTS_TOPIC and prints it.",
    )
    parser.add_argument("user_id", metavar="USER_ID", help="[A-Za-z0-9_-]{1,64}")
    parser.add_argument(
        "files",
        metavar="FILE_TYPE=PATH",
        nargs="+",
        help="e.g. passport=./scan.pdf; FILE_TYPE matches [a-z0-9][a-z0-9_-]{0,62}",
    )
    parser.add_argument("--category", default="general", help="file_category (default general)")
    parser.add_argument("--bucket", help="destination bucket (default: the consumer's)")
    parser.add_argument("--max-workers", type=int, help="files of this request in flight (1-64)")
    parser.add_argument("--wait", action="store_true", help="wait for the result and print it")
    parser.add_argument(
        "--timeout", type=float, default=30.0, metavar="S", help="--wait limit (default 30 s)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=_submit)


def parse_files(items: list[str]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for item in items:
        file_type, sep, path = item.partition("=")
        if not sep or not file_type or not path:
            raise UsageError(f"expected FILE_TYPE=PATH, got {item[:80]!r}")
        if file_type in files:
            raise UsageError(f"file type {file_type[:64]!r} given twice")
        target = Path(path)
        if not target.is_file():
            raise UsageError(f"{path[:200]!r} is not a readable file")
        files[file_type] = target
    return files


def _submit(args: argparse.Namespace) -> int:
    from producer_lib.client import UploadClient
    from producer_lib.errors import InvalidUploadError, ProducerConfigError

    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    files = parse_files(args.files)
    client = UploadClient()
    try:
        pending = client.submit(
            args.user_id,
            files,
            args.category,
            args.max_workers,
            bucket=args.bucket,
            track=args.wait,
        )
        if not args.wait:
            _print_request(pending.request, as_json=args.json)
            return EXIT_OK
        print(f"published {pending.request_id}; waiting for its result", file=sys.stderr)
        result = pending.result(timeout=args.timeout)
    except (InvalidUploadError, ProducerConfigError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    except Exception as exc:  # PublishError, ResultTimeout, StagingError, ...
        print(f"upload-stream submit: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        client.close()
    from upload_stream_cli.commands.results import print_result

    print_result(result, as_json=args.json)
    return EXIT_OK if result.status.value == "succeeded" else EXIT_FAILURE


def _print_request(request: Any, *, as_json: bool) -> None:
    if as_json:
        print(request.model_dump_json())
        return
    print(request.request_id)
    for file_type, ref in sorted(request.files.items()):
        print(f"  {file_type}: {ref.uri} ({ref.size} bytes, sha256 {ref.sha256})", file=sys.stderr)

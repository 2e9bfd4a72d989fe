"""Argument parsing and dispatch for `upload-stream`.

Exit statuses follow docs/contract/operating-interface.md: 0 success, 2 bad arguments or
configuration (one line on stderr), 1 any other failure.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from kafka_config.connection import KafkaSettingsError
from upload_stream_cli import commands
from upload_stream_cli.errors import EXIT_FAILURE, EXIT_USAGE, UsageError

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="upload-stream",
        description="Move users' documents into S3 through Kafka.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def run(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (UsageError, KafkaSettingsError) as exc:
        print(f"upload-stream {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValidationError as exc:
        # Settings are validated at start-up; a bad value is a configuration error.
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        print(f"upload-stream {args.command}: invalid {where}: {first['msg']}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_FAILURE

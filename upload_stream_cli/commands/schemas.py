"""`upload-stream schemas export DIR`: write the JSON Schema files of the events.

The files are exported from the pydantic models in `schemas/`, which are the source of
truth for the wire contract; the repository carries a copy in `schemas/jsonschema/`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from upload_stream_cli.commands import add_command_with_actions
from upload_stream_cli.errors import EXIT_OK, UsageError


def register(subparsers: Any) -> None:
    """Add `schemas` and its `export` action."""
    actions = add_command_with_actions(
        subparsers,
        "schemas",
        help="write the JSON Schema files of the events",
        description="Work with the JSON Schema files of the upload events (contract v1).",
    )
    export = actions.add_parser(
        "export",
        help="write the JSON Schema files into DIR",
        description="Write upload-request, blob-ref and upload-result JSON Schema files "
        "(draft 2020-12) into DIR, creating it if needed, and print each path written.",
    )
    export.add_argument("directory", metavar="DIR", type=Path, help="the output directory")
    export.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from schemas.export import export_to

    directory: Path = args.directory
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} exists and is not a directory")
    try:
        written = export_to(directory)
    except OSError as exc:
        raise UsageError(f"cannot write into {directory}: {exc.strerror or exc}") from None
    for path in written:
        print(path)
    return EXIT_OK

"""One module per subcommand. Each defines `register(subparsers)`, which adds its parser
and sets `handler` (a callable taking the parsed namespace and returning an exit status).
`upload_stream_cli.main` discovers the modules, so adding a command touches one file.
"""

from __future__ import annotations

from typing import Any


def add_command_with_actions(subparsers: Any, name: str, *, help: str, description: str) -> Any:
    """Add `upload-stream NAME ACTION ...`: returns the subparsers its actions go into (the
    chosen one lands in `NAME_action`); an ACTION is required."""
    parser = subparsers.add_parser(name, help=help, description=description)
    return parser.add_subparsers(dest=f"{name}_action", metavar="ACTION", required=True)

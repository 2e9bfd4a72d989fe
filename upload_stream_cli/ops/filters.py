"""Which records an ops command acts on: `--code`, `--since/--until`, `--request-id`,
`--user-id`, `--file-type`. One filter type serves both the DLQ and the results, so the
two commands select the same way.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from upload_stream_cli.errors import UsageError

_RELATIVE = re.compile(r"^(\d{1,9})([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """An RFC 3339 timestamp with an offset (`2026-01-31T12:00:00Z`), or an age before
    `now` (`90s`, `15m`, `2h`, `7d`, `1w`). Raises `UsageError` otherwise."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return (now or datetime.now(UTC)) - timedelta(seconds=amount * _UNIT_SECONDS[unit])
    try:
        parsed = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise UsageError(
            f"{text[:40]!r} is not a time: use RFC 3339 with an offset "
            "(2026-01-31T12:00:00Z) or an age like 90s, 15m, 2h, 7d"
        )
    return parsed


@dataclass(frozen=True)
class RecordFilter:
    """Empty collections and None bounds match everything."""

    codes: frozenset[str] = field(default_factory=frozenset)
    request_ids: frozenset[str] = field(default_factory=frozenset)
    user_ids: frozenset[str] = field(default_factory=frozenset)
    file_types: frozenset[str] = field(default_factory=frozenset)
    since: datetime | None = None
    until: datetime | None = None

    def match_time(self, when: datetime | None) -> bool:
        """A record whose time is unknown matches only when no bound is set."""
        if self.since is None and self.until is None:
            return True
        if when is None:
            return False
        return (self.since is None or when >= self.since) and (
            self.until is None or when <= self.until
        )

    def match_ids(self, *, request_ids: Collection[str | None], user_id: str | None) -> bool:
        """`request_ids`: every id a record answers to (its own and its lineage's)."""
        if self.request_ids and not self.request_ids.intersection(i for i in request_ids if i):
            return False
        return not self.user_ids or user_id in self.user_ids

    def match_code(self, code: str | None) -> bool:
        return not self.codes or code in self.codes

    def selected_file_types(self, file_types: Collection[str]) -> list[str]:
        """The file types to act on, in a stable order."""
        return sorted(t for t in file_types if not self.file_types or t in self.file_types)

"""CPU seconds of this process and of every process it started, grouped by role.

On a machine whose cores are shared by the broker, the S3 server, the consumers and the
clients, a row's files/s is set by who gets the CPU: the e2e benchmark prints, per row,
each role's CPU per file, read from `/proc/<pid>/stat` (user + system time of all of a
process's threads) before and after the loaded phase. Linux only; elsewhere it is empty.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# (role, a substring of the command line); the first match wins, this process is "clients".
ROLES = (
    ("broker", "kafka.Kafka"),
    ("s3", "devstack.s3_server"),
    ("s3", "bench.latency_s3"),
    ("consumers", "upload_stream_cli.entry"),
    ("clamd", "clamd"),
)


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a live process, None once it is gone."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def _cmdline(pid: int) -> str:
    try:
        return (_PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _pids() -> Iterator[int]:
    for entry in _PROC.iterdir() if _PROC.is_dir() else ():
        if entry.name.isdigit():
            yield int(entry.name)


def snapshot() -> dict[int, tuple[str, float]]:
    """pid -> (role, CPU seconds) for this process and its descendants."""
    me = os.getpid()
    stats = {pid: s for pid in _pids() if (s := _stat(pid)) is not None}
    found: dict[int, tuple[str, float]] = {}
    for pid, (_ppid, cpu) in stats.items():
        ancestor, hops = pid, 0
        while ancestor not in (me, 0, 1) and ancestor in stats and hops < 64:
            ancestor, hops = stats[ancestor][0], hops + 1
        if ancestor != me:
            continue
        if pid == me:
            found[pid] = ("clients", cpu)
            continue
        line = _cmdline(pid)
        role = next((r for r, marker in ROLES if marker in line), "other")
        found[pid] = (role, cpu)
    return found


def by_role(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds each role used between two snapshots (a process started in between
    counts from zero; one gone by `after` is not counted)."""
    used: dict[str, float] = {}
    for pid, (role, cpu) in after.items():
        start = before.get(pid, (role, 0.0))[1]
        used[role] = used.get(role, 0.0) + max(0.0, cpu - start)
    return used

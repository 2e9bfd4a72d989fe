"""The suite's scoreboard: each reliability test records what it did and what it found.

Tests record their row *before* asserting, so a failing run still shows its numbers.
`conftest.pytest_terminal_summary` prints the tables and writes `last-run.md` (git-ignored).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

LAST_RUN = Path(__file__).resolve().parent / "last-run.md"


@dataclass
class Row:
    test: str
    faults: str = "-"
    faults_injected: int = 0
    sent: int = 0
    committed: int = 0
    duplicates: int = 0
    missing: int = 0
    corrupt: int = 0
    hostile_tried: int = 0
    hostile_handled: int = 0
    notes: str = ""


@dataclass
class Load:
    test: str
    requests: int
    files: int
    seconds: float
    files_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    rss_peak_mib: float
    rss_q2_mib: float
    rss_q4_mib: float
    rss_bound: str
    notes: str = ""


@dataclass
class Scoreboard:
    rows: list[Row] = field(default_factory=list)
    loads: list[Load] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def add_load(self, load: Load) -> Load:
        self.loads.append(load)
        return load

    def render(self) -> str:
        if not self.rows and not self.loads:
            return ""
        out = ["## Reliability results", ""]
        if self.rows:
            out += [
                "| test | faults | injected | requests sent | results committed | duplicates "
                "| objects missing | objects corrupt | hostile tried/handled | notes |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
            ]
            for r in self.rows:
                hostile = f"{r.hostile_handled}/{r.hostile_tried}" if r.hostile_tried else "-"
                out.append(
                    f"| {r.test} | {r.faults} | {r.faults_injected} | {r.sent} | {r.committed} "
                    f"| {r.duplicates} | {r.missing} | {r.corrupt} | {hostile} | {r.notes} |"
                )
            t = self.rows
            tried = sum(r.hostile_tried for r in t)
            handled = sum(r.hostile_handled for r in t)
            out.append(
                f"| **total** | | {sum(r.faults_injected for r in t)} | {sum(r.sent for r in t)} "
                f"| {sum(r.committed for r in t)} | {sum(r.duplicates for r in t)} "
                f"| {sum(r.missing for r in t)} | {sum(r.corrupt for r in t)} "
                f"| {handled}/{tried} | |"
            )
        if self.loads:
            out += [
                "",
                "| load test | requests | files | seconds | files/s | p50 ms | p99 ms | max ms "
                "| peak RSS MiB | RSS Q2 mean | RSS Q4 mean | RSS bound | notes |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
            ]
            for x in self.loads:
                out.append(
                    f"| {x.test} | {x.requests} | {x.files} | {x.seconds:.1f} "
                    f"| {x.files_per_s:.1f} | {x.p50_ms:.0f} | {x.p99_ms:.0f} | {x.max_ms:.0f} "
                    f"| {x.rss_peak_mib:.1f} | {x.rss_q2_mib:.1f} | {x.rss_q4_mib:.1f} "
                    f"| {x.rss_bound} | {x.notes} |"
                )
        return "\n".join(out) + "\n"


SCOREBOARD = Scoreboard()

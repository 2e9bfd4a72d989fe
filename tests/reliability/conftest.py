"""Reliability suite plumbing: the `soak` opt-in, the scoreboard, and process cleanup.

Soak runs (`@pytest.mark.soak`) are long and only run when asked for with `-m soak`
(`make soak`). Otherwise they are *deselected* (not skipped), and the summary says so in
one line: a deselected soak run is a deliberate opt-out, never a missing service. Tests
that need the stack still fail under `CI` when it is missing (the `stack` fixture).
"""

from __future__ import annotations

import pytest

from tests.reliability.report import LAST_RUN, SCOREBOARD

_SOAK_OPT_IN = "soak runs are opt-in: `make soak` (pytest tests/reliability -m soak)"
_deselected_soak: list[str] = []


def _soak_requested(config: pytest.Config) -> bool:
    expression = config.getoption("markexpr", "") or ""
    return "soak" in expression and "not soak" not in expression


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _soak_requested(config):
        return
    soak = [item for item in items if item.get_closest_marker("soak")]
    if soak:
        _deselected_soak.extend(item.nodeid for item in soak)
        config.hook.pytest_deselected(items=soak)
        items[:] = [item for item in items if not item.get_closest_marker("soak")]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _deselected_soak:
        terminalreporter.write_line(
            f"reliability: {len(_deselected_soak)} soak test(s) deselected; {_SOAK_OPT_IN}"
        )
    table = SCOREBOARD.render()
    if not table:
        return
    terminalreporter.section("reliability results")
    terminalreporter.write(table)
    LAST_RUN.write_text(table)
    terminalreporter.write_line(f"(also written to {LAST_RUN})")

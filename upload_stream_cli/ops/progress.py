"""Progress of a replay: a bar on a terminal, silence otherwise (then only the summary).

Lines printed while the bar is up go through `write`, which clears the bar first, so the
two never interleave on a shared terminal.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TextIO

_WIDTH = 30
_REDRAW_S = 0.1  # a terminal cannot show faster; a million redraws would slow the replay


class Progress:
    def __init__(self, total: int, stream: TextIO, *, enabled: bool | None = None) -> None:
        self.total = total
        self.counts: Counter[str] = Counter()
        self._stream = stream
        self._enabled = stream.isatty() if enabled is None else enabled
        self._shown = False
        self._drawn_at = float("-inf")

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def add(self, outcome: str) -> None:
        self.counts[outcome] += 1
        self._draw()

    def write(self, line: str, out: TextIO) -> None:
        self._clear()
        out.write(line + "\n")
        out.flush()
        self._draw()

    def close(self) -> None:
        self._clear()

    def render(self) -> str:
        filled = _WIDTH * self.done // self.total if self.total else _WIDTH
        counts = " ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        return f"[{'#' * filled}{'.' * (_WIDTH - filled)}] {self.done}/{self.total} {counts}"

    def _draw(self) -> None:
        now = time.monotonic()
        due = now - self._drawn_at >= _REDRAW_S or self.done == self.total or not self._shown
        if self._enabled and due:
            self._stream.write("\r" + self.render())
            self._stream.flush()
            self._shown = True
            self._drawn_at = now

    def _clear(self) -> None:
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False

"""Progress of a replay: a tqdm bar on a terminal, silence otherwise (then only the summary).

Lines printed while the bar is up go through `write`, which clears the bar first, so the
two never interleave on a shared terminal.
"""

from __future__ import annotations

from collections import Counter
from typing import TextIO

from tqdm import tqdm

_REDRAW_S = 0.1  # a terminal cannot show faster; a million redraws would slow the replay


class Progress:
    def __init__(self, total: int, stream: TextIO, *, enabled: bool | None = None) -> None:
        self.total = total
        self.counts: Counter[str] = Counter()
        self._bar = tqdm(
            total=total,
            file=stream,
            disable=not (stream.isatty() if enabled is None else enabled),
            leave=False,  # closing clears it: the summary line follows
            unit="request",
            mininterval=_REDRAW_S,
            dynamic_ncols=True,
        )

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def add(self, outcome: str) -> None:
        self.counts[outcome] += 1
        self._bar.set_postfix_str(
            " ".join(f"{k}={v}" for k, v in sorted(self.counts.items())), refresh=False
        )
        self._bar.update(1)

    def write(self, line: str, out: TextIO) -> None:
        self._bar.clear()
        out.write(line + "\n")
        out.flush()
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()

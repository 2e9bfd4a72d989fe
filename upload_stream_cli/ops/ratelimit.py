"""A token bucket for `--rate`: at most `rate` publishes per second on average.

The burst defaults to one token, so a replay of thousands of requests is spread evenly
instead of arriving at the consumer in one-second clumps. Clock and sleep are injected,
so tests run without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now

    def acquire(self) -> float:
        """Take one token, sleeping until one is there; returns the seconds slept."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        delay = (1 - self._tokens) / self._rate
        self._sleep(delay)
        # The sleep bought the missing fraction. Clamping at 0 instead of looping until
        # the clock shows a whole token: float rounding could leave 1e-17 short forever.
        self._refill()
        self._tokens = max(0.0, self._tokens - 1)
        return delay

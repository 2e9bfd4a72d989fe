"""Exponential backoff with full jitter inside a bounded budget.

botocore's own retries are off (see client.py), so this is the only retry loop and its
budget is the one in the settings. Only transient failures (throttling, timeouts,
connection errors) are retried; past the budget the last failure is reported as is.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from upload_engine.classify import Side, classify, is_transient
from upload_engine.errors import FileError
from upload_engine.settings import EngineSettings

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay_s: float = 0.1
    max_delay_s: float = 5.0
    # Injected by tests; time.sleep yields to the hub when the process is monkey-patched.
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    # A security-irrelevant jitter source: backoff spread, not secrets.
    rand: Callable[[], float] = field(default=random.random, compare=False)

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> RetryPolicy:
        return cls(
            max_attempts=settings.retry_max_attempts,
            base_delay_s=settings.retry_base_delay_s,
            max_delay_s=settings.retry_max_delay_s,
        )

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(attempt-1)))."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        return self.rand() * ceiling

    def call(self, func: Callable[[], T], side: Side) -> T:
        """`func()`, retried on transient errors; any failure leaves as a `FileError`."""
        attempt = 1
        while True:
            try:
                return func()
            except FileError:
                raise
            except Exception as exc:
                failure = classify(exc, side)
                if not is_transient(failure) or attempt >= self.max_attempts:
                    if attempt > 1:
                        message = f"{failure.message} (after {attempt} attempts)"
                    else:
                        message = failure.message
                    raise FileError(failure.code, message) from exc
            self.sleep(self.delay(attempt))
            attempt += 1

"""Running librdkafka's blocking calls without freezing the gevent hub.

A `poll(1.0)` made on the hub stalls every greenlet for a second (FIELD-NOTES). Under
monkey-patching the call goes to the hub's threadpool, whose OS threads may block; in a
plain threaded program it runs in place.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from upload_engine.scheduling import process_is_patched

T = TypeVar("T")


def call_blocking(func: Callable[..., T], *args: object) -> T:
    """`func(*args)`, off the hub when gevent is active."""
    if process_is_patched():
        import gevent

        result: T = gevent.get_hub().threadpool.apply(func, args)
        return result
    return func(*args)


def pause(seconds: float) -> None:
    """A short sleep that yields to other greenlets when patched (time.sleep is patched)."""
    time.sleep(seconds)

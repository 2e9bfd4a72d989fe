"""Running librdkafka's blocking calls without freezing the gevent hub.

A `poll(1.0)` made on the hub stalls every greenlet for a second (FIELD-NOTES). Under
monkey-patching the call goes to the hub's threadpool, whose OS threads may block; in a
plain threaded program it runs in place.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar, cast

from upload_engine.scheduling import process_is_patched

T = TypeVar("T")


def call_blocking(func: Callable[..., T], *args: object) -> T:
    """`func(*args)`, off the hub when gevent is active."""
    if process_is_patched():
        import gevent

        # The exception comes back as a value: gevent's threadpool would print the
        # traceback of every one raised in its threads (an expected ReplyChannelError too).
        def call() -> tuple[bool, object]:
            try:
                return True, func(*args)
            except Exception as exc:
                return False, exc

        ok, value = gevent.get_hub().threadpool.apply(call)
        if not ok:
            assert isinstance(value, Exception)
            raise value
        return cast(T, value)
    return func(*args)


def pause(seconds: float) -> None:
    """A short sleep that yields to other greenlets when patched (time.sleep is patched)."""
    time.sleep(seconds)

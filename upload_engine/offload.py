"""Running a blocking call (librdkafka's poll, flush, transactions) without freezing the
gevent hub: the one way every package does it.

When gevent has patched the process, a call that blocks in C (librdkafka does not use
Python's sockets) would stall every greenlet until it returns, so it goes to the hub's
threadpool and only the calling greenlet waits. In a process that is not patched (a
threaded web server, a script) nothing else shares the thread's hub and the call runs in
place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import gevent

from upload_engine.errors import StuckCallError
from upload_engine.scheduling import process_is_patched

T = TypeVar("T")


def offload(
    fn: Callable[..., T],
    *args: Any,
    deadline_s: float | None = None,
    stuck_error: type[StuckCallError] = StuckCallError,
) -> T:
    """`fn(*args)`, in gevent's threadpool when the process is patched, else in place.

    The exception travels back from the thread as a value: gevent's threadpool would
    otherwise print the traceback of every (expected, retried) error raised in it.

    `deadline_s`: for calls that take a timeout but may not honour it (librdkafka #5456:
    `send_offsets_to_transaction` blocked for good after a broker restart). Such a call
    runs in the threadpool whether patched or not, since only a thread can be walked away
    from; past the deadline `stuck_error` (a `StuckCallError`) is raised, carrying the
    call still running in its thread."""
    if deadline_s is None and not process_is_patched():
        return fn(*args)

    def call() -> tuple[bool, Any]:
        try:
            return True, fn(*args)
        except Exception as exc:
            return False, exc

    pool = gevent.get_hub().threadpool
    if deadline_s is None:
        ok, value = pool.apply(call)
    else:
        pending = pool.spawn(call)
        try:
            ok, value = pending.get(timeout=deadline_s)
        except gevent.Timeout:
            name = getattr(fn, "__name__", type(fn).__name__)
            raise stuck_error(f"{name} did not return within {deadline_s:g} s", pending) from None
    if not ok:
        raise value
    result: T = value
    return result

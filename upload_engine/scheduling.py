"""Running a job's files concurrently: a gevent pool of greenlets, whether gevent has
patched the process or not.

Backpressure lives here and only here: a file's task takes a slot from its job
(`max_workers`) and then one from the process-wide limit (`max_concurrency`), in that
order, so a job waiting on its own limit never holds a global slot. Each slot is given
back when its task ends, however it ends (see `GeventScheduler._run`).

One scheduler serves both worlds. With `gevent.monkey.patch_all()` (the consumer, gevent
workers) each greenlet uploads in place and a semaphore is the global limit. Without it
(Django's test runner and dev server, gunicorn sync workers, a script) a socket call would
block the whole hub and the pool would upload one file at a time, so each greenlet hands
its file to one of `max_concurrency` OS threads shared by the process (the global limit)
and waits for it without blocking the hub. boto3 clients are thread-safe. gevent's own
threadpool is not used for that: it may only be used from the thread that owns its hub,
and a threaded web server calls from many threads.

Either way one process uses about one core: greenlets share one thread, threads share the
GIL (they overlap only socket syscalls and hashing). Past a few dozen small files in
flight a process is CPU-bound, so more throughput comes from more processes, not a bigger
K (figures: `python -m bench engine`, and the README's Measured section).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Literal, Protocol

import gevent
import gevent.event
import gevent.lock
import gevent.monkey
import gevent.pool

Task = Callable[[], None]
# Makes the pool of one job's greenlets, given its `max_workers`: `gevent.pool.Pool`, or
# the caller's own (AWSService makes it through its module's `gevent`, which tests patch).
PoolFactory = Callable[[int], gevent.pool.Pool]
ExecutorKind = Literal["auto", "gevent", "threads"]
_KEEP_ALIVE_S = 60.0


class Scheduler(Protocol):
    kind: str

    def run_all(
        self, tasks: Sequence[Task], max_workers: int, pool_factory: PoolFactory | None = None
    ) -> None:
        """Runs every task, at most `max_workers` of them at once; returns when all ended."""

    def close(self) -> None: ...


def process_is_patched() -> bool:
    """True when gevent has monkey-patched the socket module of this process."""
    return bool(gevent.monkey.is_module_patched("socket"))


class GeventScheduler:
    """`kind` "gevent": tasks run in their greenlets; "threads": in OS threads, each
    awaited by its greenlet."""

    def __init__(self, max_concurrency: int, *, in_threads: bool) -> None:
        self.kind = "threads" if in_threads else "gevent"
        self._slots = gevent.lock.BoundedSemaphore(max_concurrency)
        self._threads = (
            ThreadPoolExecutor(max_concurrency, thread_name_prefix="upload-engine")
            if in_threads
            else None
        )

    def _run(self, task: Task) -> None:
        if self._threads is not None:
            _await_in_thread(self._threads.submit(task))
            return
        # The global slot is taken by the task's own greenlet once it runs, and given back
        # by the same block however the task ends (returned, raised, killed mid-upload). A
        # greenlet killed before it ran never took one, so no slot can leak.
        with self._slots:
            task()

    def run_all(
        self, tasks: Sequence[Task], max_workers: int, pool_factory: PoolFactory | None = None
    ) -> None:
        """Runs every task, at most `max_workers` of them at once; returns when all ended."""
        pool = (pool_factory or gevent.pool.Pool)(max_workers)
        greenlets: list[gevent.Greenlet[[Task], None]] = []
        try:
            for task in tasks:
                greenlet = gevent.Greenlet(self._run, task)
                greenlets.append(greenlet)
                pool.start(greenlet)  # waits for a slot of the job
            pool.join()
        finally:
            # Kills only what is left: all of it if the caller was killed mid-job (a
            # gevent.Timeout), and whatever a stand-in pool (a test's mock) never started.
            # No greenlet outlives the call.
            gevent.killall(greenlets)

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True)


def _await_in_thread(future: Future[None]) -> None:
    """Waits for a task running in an OS thread; the hub of this thread keeps running."""
    done = gevent.event.Event()
    loop = gevent.get_hub().loop
    # Called in the worker thread: the waiting greenlet is woken in its own hub.
    future.add_done_callback(lambda _: loop.run_callback_threadsafe(done.set))
    try:
        # A callback due from another thread does not keep the hub's loop alive, a timer
        # does: without one, a hub with nothing else to do would end in LoopExit.
        while not done.wait(timeout=_KEEP_ALIVE_S):
            pass
    except BaseException:
        # Killed while waiting: a task not started yet never starts (so its thread is
        # free); one already running ends in its thread, which then frees itself.
        future.cancel()
        raise
    future.result()


def make_scheduler(kind: ExecutorKind, max_concurrency: int) -> Scheduler:
    if kind == "auto":
        kind = "gevent" if process_is_patched() else "threads"
    return GeventScheduler(max_concurrency, in_threads=kind == "threads")

"""Running a job's files concurrently: greenlets when gevent has patched the process,
OS threads when it has not.

Backpressure lives here and only here: a file's task takes a slot from its job
(`max_workers`) and then one from the process-wide semaphore (`max_concurrency`), in that
order, so a job waiting on its own limit never holds a global slot. Each slot is given
back when its task ends, however it ends (see `GeventScheduler._run`).

Why two executors: without `gevent.monkey.patch_all()` sockets block the whole hub, so a
gevent pool would upload one file at a time. A plain (unpatched) app - Django under
gunicorn sync workers, a script - therefore gets a thread pool of the same sizes; boto3
clients are thread-safe. Patched processes (the consumer, gevent workers) get greenlets.

Either way one process uses about one core: greenlets share one thread, threads share the
GIL (they overlap only socket syscalls and hashing). A small file costs ~0.7 ms of CPU
with the lean signed PUT (fast_put.py; ~1.5 ms with botocore's full pipeline), so
past ~60 files in flight at 50 ms RTT a process is CPU-bound; more throughput comes from
more processes, not a bigger K. With it, greenlets beat boto3's s3transfer threads at
every K measured, 1-64 (bench/engine_bench.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Literal, Protocol

import gevent
import gevent.lock
import gevent.monkey
import gevent.pool

Task = Callable[[], None]
ExecutorKind = Literal["auto", "gevent", "threads"]


class Scheduler(Protocol):
    kind: str

    def run_all(self, tasks: Sequence[Task], max_workers: int) -> None:
        """Runs every task, at most `max_workers` of them at once; returns when all ended."""

    def close(self) -> None: ...


class GeventScheduler:
    kind = "gevent"

    def __init__(self, max_concurrency: int) -> None:
        self._slots = gevent.lock.BoundedSemaphore(max_concurrency)

    def _run(self, task: Task) -> None:
        # The global slot is taken by the task's own greenlet once it runs, and given back
        # by the same block however the task ends (returned, raised, killed mid-upload). A
        # greenlet killed before it ran never took one, so no slot can leak.
        with self._slots:
            task()

    def run_all(self, tasks: Sequence[Task], max_workers: int) -> None:
        pool = gevent.pool.Pool(max_workers)
        greenlets: list[gevent.Greenlet[[Task], None]] = []
        try:
            for task in tasks:
                greenlet = gevent.Greenlet(self._run, task)
                greenlets.append(greenlet)
                pool.start(greenlet)  # waits for a slot of the job
            pool.join()
        finally:
            # Only does anything if the caller was killed mid-job (a gevent.Timeout): no
            # greenlet outlives the call, started or not.
            gevent.killall(greenlets)

    def close(self) -> None:
        pass


class ThreadScheduler:
    kind = "threads"

    def __init__(self, max_concurrency: int) -> None:
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._executor = ThreadPoolExecutor(max_concurrency, thread_name_prefix="upload-engine")

    def run_all(self, tasks: Sequence[Task], max_workers: int) -> None:
        job_slots = threading.BoundedSemaphore(max_workers)

        def run(task: Task) -> None:
            try:
                task()
            finally:
                self._slots.release()
                job_slots.release()

        futures = []
        for task in tasks:
            job_slots.acquire()
            self._slots.acquire()
            futures.append(self._executor.submit(run, task))
        wait(futures)
        for future in futures:
            future.result()

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def process_is_patched() -> bool:
    return bool(gevent.monkey.is_module_patched("socket"))


def make_scheduler(kind: ExecutorKind, max_concurrency: int) -> Scheduler:
    if kind == "auto":
        kind = "gevent" if process_is_patched() else "threads"
    if kind == "gevent":
        return GeventScheduler(max_concurrency)
    return ThreadScheduler(max_concurrency)

"""The end-to-end benchmark's baseline, measured beside each Kafka row rather than apart.

On these shared 2-core machines two identical runs of the in-process engine, minutes apart,
measured 97 and 128 files/s (moto's CPU per file moved from 10.2 to 7.8 ms between them),
and a lone request's p50 moved from 44 to 64 ms. A Kafka row compared with engine runs made
before and after it therefore moved as much as the 5-15 % it was meant to show. So each row
carries its own baseline: `Side` is one path's tally, `EngineSide` runs `UploadEngine.upload`
in this process on the same staged files (under its own keys, so nothing is already
stored), and the row interleaves the two: loaded phases in the order K E E K K E E K, lone
requests alternately one by one. Drift then weighs on both sides of each ratio alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bench import process_cpu

# Loaded phases per side: each side's REQUESTS in this many parts, interleaved K E E K ...
PHASES = 4


@dataclass
class Side:
    """What one path measured within a row: loaded phases summed, lone requests listed."""

    files: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    solo: list[float] = field(default_factory=list)
    stack_cpu: dict[str, float] = field(default_factory=dict)  # loaded: role -> CPU seconds

    def add_phase(self, files: int, seconds: float, latencies: list[float]) -> None:
        self.files += files
        self.seconds += seconds
        self.latencies += latencies

    def add_cpu(self, used: dict[str, float]) -> None:
        for role, seconds in used.items():
            self.stack_cpu[role] = self.stack_cpu.get(role, 0.0) + seconds


class EngineSide:
    """`UploadEngine.upload` in this process, on the staged files the row also publishes."""

    def __init__(
        self, refs: list[dict[str, Any]], category: str, max_workers: int, staging_prefix: str
    ) -> None:
        from upload_engine import UploadEngine
        from upload_engine.settings import EngineSettings
        from upload_stream_cli.devstack.stack import DOCUMENTS_BUCKET, STAGING_BUCKET

        self._bucket = DOCUMENTS_BUCKET
        self._refs = refs
        self._category = category
        self._max_workers = max_workers
        self._engine = UploadEngine(
            EngineSettings(
                default_bucket=DOCUMENTS_BUCKET,
                staging_allowlist=[f"s3://{STAGING_BUCKET}/{staging_prefix}"],
            )
        )

    def jobs(self, part: str, count: int) -> list[Any]:
        from upload_engine import UploadJob

        category = f"{self._category}_{part}"
        return [
            UploadJob(
                request_id=f"e-{category}-{i}",
                user_id=f"u{i % 64}",
                file_category=category,
                bucket=self._bucket,
                files=files,
                max_workers=self._max_workers,
            )
            for i, files in enumerate(self._refs[:count])
        ]

    def work(self, job: Any) -> float:
        started = time.perf_counter()
        outcome = self._engine.upload(job)
        if outcome.failures:  # a failure's speed is not the upload path's
            raise RuntimeError(f"engine failures: {sorted(outcome.failures)}")
        return time.perf_counter() - started

    def close(self) -> None:
        self._engine.close()


def parts(items: Sequence[Any], count: int) -> list[list[Any]]:
    """`items` in `count` consecutive parts of (nearly) equal length."""
    size, extra = divmod(len(items), count)
    found, start = [], 0
    for n in range(count):
        end = start + size + (1 if n < extra else 0)
        found.append(list(items[start:end]))
        start = end
    return found


def interleaved(phases: int) -> Iterator[tuple[int, bool]]:
    """(phase, kafka first?) pairs: K E, E K, K E, ... so a linear drift cancels out."""
    for n in range(phases):
        yield n, n % 2 == 0


def timed_phase(
    side: Side,
    requests: list[Any],
    run: Callable[[list[Any]], tuple[float, list[float]]],
    files_per_request: int,
) -> None:
    """One loaded phase of one side, with every process's CPU around it."""
    before = process_cpu.snapshot()
    seconds, latencies = run(requests)
    side.add_cpu(process_cpu.by_role(before, process_cpu.snapshot()))
    side.add_phase(len(requests) * files_per_request, seconds, latencies)


class Interleaved:
    """Runs a row's loaded phases and lone requests on the Kafka path and, when there is
    a baseline, on the engine, interleaved; tallies each side."""

    def __init__(self, baseline: EngineSide | None, files_per_request: int) -> None:
        self.baseline = baseline
        self.kafka = Side()
        self.engine = Side()
        self._files = files_per_request

    def loaded(
        self,
        requests: list[Any],
        work: Callable[[Any], float],
        closed_loop: Callable[..., tuple[float, list[float]]],
        watch: Callable[[Callable[[], None]], None],
    ) -> None:
        """`requests` on the Kafka path (each phase run inside `watch`), as many jobs on
        the engine, both through `closed_loop`, in PHASES interleaved parts."""
        baseline = self.baseline
        kafka_parts = parts(requests, PHASES if baseline is not None else 1)
        engine_parts = parts(baseline.jobs("loaded", len(requests)), PHASES) if baseline else []

        def kafka_phase(n: int) -> None:
            run = partial(closed_loop, work=work)
            watch(lambda: timed_phase(self.kafka, kafka_parts[n], run, self._files))

        for n, kafka_first in interleaved(len(kafka_parts)):
            if baseline is None:
                kafka_phase(n)
                continue
            run_engine = partial(closed_loop, work=baseline.work)
            if kafka_first:
                kafka_phase(n)
            timed_phase(self.engine, engine_parts[n], run_engine, self._files)
            if not kafka_first:
                kafka_phase(n)

    def lone(self, requests: list[Any], work: Callable[[Any], float]) -> None:
        """One at a time; with a baseline, each paired with one engine job, the engine's
        first on every other pair."""
        jobs = self.baseline.jobs("solo", len(requests)) if self.baseline else []
        for i, request in enumerate(requests):
            if self.baseline is not None and i % 2:
                self.engine.solo.append(self.baseline.work(jobs[i]))
            self.kafka.solo.append(work(request))
            if self.baseline is not None and not i % 2:
                self.engine.solo.append(self.baseline.work(jobs[i]))

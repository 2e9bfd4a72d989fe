"""`Timeline`: opt-in stage stamps and CPU accounting, for `python -m bench e2e`.

Off by default (`UPLOAD_STREAM_TIMELINE`); when off, `Timeline.off()` hands out a shared
no-op section, no wrapper is installed and no header is added. When on:

- each result carries a `timeline` header: JSON of wall-clock stamps (`time.time()`, s)
  `appended` (the request record's broker timestamp: its append time when the topic uses
  LogAppendTime), `fetched` (handed to the loop by `consume`), `admitted` (decoded, policy
  applied, upload greenlet spawned), `uploaded` (engine returned), `encoded` (result
  built); the engine's own `started_at`/`finished_at` are in the result itself;
- CPU time is charged to a category: a greenlet-switch trace (`greenlet.settrace`) charges
  the main thread's `time.thread_time()` between two switches to the running greenlet's
  innermost section (the loop greenlet's default is `loop`, every other greenlet's
  `engine`, the hub's `hub`), and sections mark what runs inside (`decode`, `encode`,
  `kafka` for on-hub librdkafka calls). CPU of other OS threads (librdkafka's own threads,
  gevent's threadpool running transactional calls) is `kafka_threads`;
- each checkpoint's duration and record count are kept.

`report()` sums it up (per file, per request, per checkpoint); the consumer logs it at
shutdown and on SIGUSR1 (a `timeline` line); the benchmark reads it from there.
"""

from __future__ import annotations

import json
import logging
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import gevent
import greenlet

log = logging.getLogger(__name__)

HEADER = "timeline"


class Cpu(StrEnum):
    LOOP = "loop"
    DECODE = "decode"  # decode_request + the policy checks of `consumer.dispatch.decide`
    ENGINE = "engine"
    ENCODE = "encode"
    KAFKA = "kafka"  # librdkafka calls made on the hub
    KAFKA_THREADS = "kafka_threads"  # other OS threads: librdkafka's, the threadpool
    HUB = "hub"  # gevent's event loop: socket wake-ups, timers


_NO_SECTION: AbstractContextManager[None] = nullcontext()
# KafkaIO methods that call librdkafka on the hub (the transactional ones are offloaded:
# their CPU is in kafka_threads, and the loop greenlet only waits meanwhile).
_ON_HUB_CALLS = (
    "fetch",
    "produce",
    "serve_producer",
    "flush",
    "pause",
    "resume",
    "seek",
    "commit_offsets",
    "send_offsets_to_transaction",
)


@dataclass
class _Greenlet:
    stack: list[Cpu]


@dataclass
class Timeline:
    enabled: bool
    cpu: dict[Cpu, float] = field(default_factory=lambda: dict.fromkeys(Cpu, 0.0))
    requests: int = 0
    files: int = 0
    checkpoints: list[tuple[float, int]] = field(default_factory=list)  # (seconds, records)
    _fetched: dict[tuple[str, int, int], tuple[float, float]] = field(default_factory=dict)
    _admitted: dict[tuple[str, int, int], float] = field(default_factory=dict)
    _greenlets: dict[int, _Greenlet] = field(default_factory=dict)
    _loop_id: int | None = None
    _last: float = 0.0
    _started: tuple[float, float] = (0.0, 0.0)  # (process_time, thread_time)
    _previous_trace: Any = None

    @classmethod
    def off(cls) -> Timeline:
        return cls(enabled=False)

    @classmethod
    def on(cls) -> Timeline:
        return cls(enabled=True)

    # CPU accounting

    def start(self) -> None:
        """Called on the loop greenlet: it becomes `loop`; the switch trace starts, and
        SIGUSR1 logs a report (a `timeline` line)."""
        if not self.enabled:
            return
        self._loop_id = id(greenlet.getcurrent())
        self._last = time.thread_time()
        self._started = (time.process_time(), self._last)
        self._previous_trace = greenlet.settrace(self._on_switch)
        gevent.signal_handler(signal.SIGUSR1, self.log_report)

    def stop(self) -> None:
        """At shutdown: the last report, then the trace is removed."""
        if not self.enabled or self._loop_id is None:
            return
        self.log_report()
        greenlet.settrace(self._previous_trace)
        self._loop_id = None

    def log_report(self) -> None:
        log.info("timeline", extra={"summary": self.report()})

    def _other_threads(self) -> float:
        """CPU of every OS thread but this (the hub's) one since `start`."""
        main = time.thread_time() - self._started[1]
        return max(0.0, time.process_time() - self._started[0] - main)

    def section(self, category: Cpu) -> AbstractContextManager[None]:
        """Charge what the current greenlet runs inside to `category`."""
        if not self.enabled or self._loop_id is None:
            return _NO_SECTION
        return self._section(category)

    @contextmanager
    def _section(self, category: Cpu) -> Iterator[None]:
        self._charge()
        stack = self._stack(greenlet.getcurrent())
        stack.append(category)
        try:
            yield
        finally:
            self._charge()
            stack.pop()

    def instrument(self, io: object, checkpoint: object) -> None:
        """Wrap the instances' methods (nothing when off): `KafkaIO`'s on-hub calls run in
        a `kafka` section, `fetch` and `wait_for_messages` stamp what they return;
        `Checkpoint.commit` is timed."""
        if not self.enabled:
            return
        for name in _ON_HUB_CALLS:
            setattr(io, name, self._in_section(getattr(io, name), Cpu.KAFKA))
        # Both ways messages reach the loop are stamped; an idle wait runs in the threadpool
        # (its CPU is kafka_threads), so it gets no section.
        for name in ("fetch", "wait_for_messages"):
            take = getattr(io, name)
            setattr(io, name, lambda *a, _take=take, **k: self.fetched(_take(*a, **k)))
        commit = getattr(checkpoint, "commit")  # noqa: B009

        def timed_commit(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            records = commit(*args, **kwargs)
            self.checkpointed(time.perf_counter() - started, records)
            return records

        setattr(checkpoint, "commit", timed_commit)  # noqa: B010

    def _in_section(self, method: Callable[..., Any], category: Cpu) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with self.section(category):
                return method(*args, **kwargs)

        return call

    def _stack(self, glet: Any) -> list[Cpu]:
        entry = self._greenlets.get(id(glet))
        if entry is None:
            if id(glet) == self._loop_id:
                base = Cpu.LOOP
            elif glet is gevent.get_hub():
                base = Cpu.HUB
            else:
                base = Cpu.ENGINE
            entry = self._greenlets[id(glet)] = _Greenlet([base])
        return entry.stack

    def _charge(self, glet: Any = None) -> None:
        now = time.thread_time()
        stack = self._stack(glet if glet is not None else greenlet.getcurrent())
        self.cpu[stack[-1]] += now - self._last
        self._last = now

    def _on_switch(self, event: str, args: tuple[Any, Any]) -> None:
        if event in ("switch", "throw"):
            origin, _target = args
            self._charge(origin)
            if origin.dead:  # ids are reused
                self._greenlets.pop(id(origin), None)
        if self._previous_trace is not None:
            self._previous_trace(event, args)

    # Stage stamps

    def fetched(self, messages: list[Any]) -> list[Any]:
        """Wraps `KafkaIO.fetch`'s result: note when each message reached the loop."""
        now = time.time()
        for message in messages:
            if message.error() is None:
                _kind, appended_ms = message.timestamp()
                key = (message.topic(), message.partition(), message.offset())
                self._fetched[key] = (appended_ms / 1000.0, now)
        return messages

    def admitted(self, topic: str, partition: int, offset: int) -> None:
        if self.enabled:
            self._admitted[(topic, partition, offset)] = time.time()

    def header(self, topic: str, partition: int, offset: int, uploaded: float) -> bytes:
        key = (topic, partition, offset)
        appended, fetched = self._fetched.pop(key, (0.0, 0.0))
        stamps = {
            "appended": appended,
            "fetched": fetched,
            "admitted": self._admitted.pop(key, 0.0),
            "uploaded": uploaded,
            "encoded": time.time(),
        }
        return json.dumps(stamps).encode()

    def counted(self, files: int) -> None:
        self.requests += 1
        self.files += files

    def checkpointed(self, seconds: float, records: int) -> None:
        if records:
            self.checkpoints.append((seconds, records))

    def report(self) -> dict[str, Any]:
        """Cumulative since `start`: CPU seconds per category, requests and files uploaded,
        checkpoints (count, seconds, records; p50/p99 of their durations). Logged on
        SIGUSR1 and at shutdown: the benchmark subtracts two reports to get one phase."""
        if self._loop_id is not None:
            self._charge()
        cpu = {c.value: round(s, 6) for c, s in self.cpu.items()}
        cpu[Cpu.KAFKA_THREADS.value] = round(self._other_threads(), 6)
        durations = sorted(d for d, _ in self.checkpoints)
        return {
            "requests": self.requests,
            "files": self.files,
            "cpu_s": cpu,
            "checkpoints": len(self.checkpoints),
            "checkpoint_s": round(sum(durations), 6),
            "checkpoint_records": sum(n for _, n in self.checkpoints),
            "checkpoint_ms_p50": round(_pct(durations, 50) * 1000, 3),
            "checkpoint_ms_p99": round(_pct(durations, 99) * 1000, 3),
        }


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    rank = max(1, -(-len(values) * pct // 100))
    return values[int(rank) - 1]

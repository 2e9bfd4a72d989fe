"""The content gate's cost in the engine: gate off, type check only, clamd scanning.

Used by `python -m bench.engine_bench --gate`. Small real-typed files (bench/payloads.py:
a PDF padded to SIZE bytes, declared `application/pdf`) as one-file jobs, `CLIENTS` at a
time in a closed loop, through the benchmark's S3 endpoint (the discarding `sink` bucket)
at the given latency. Each mode gets its own engine; the modes take turns, `repeat` rounds, so drift
on a shared machine hits them alike, and each mode is compared with "gate off" of the same
round (the median of those ratios is printed). Per file: latency from `upload` to its
outcome; CPU per file of this process and of clamd.

clamd is Debian's, started like the tests' (upload_stream_cli/devstack/clamd.py) with a
one-signature database: the figures are the protocol's and clamd's own per-stream cost,
not signature matching against freshclam's full databases (which grows with bytes).
"""

from __future__ import annotations

import io
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent

from bench.payloads import DOCUMENT_TYPE, documents
from upload_engine import LocalBlob, UploadEngine, UploadJob
from upload_engine.settings import EngineSettings
from upload_stream_cli.devstack.clamd import ClamdServer

SIZE = 64 * 1024
FILES = 256
CLIENTS = 16
MODES = ("gate off", "type check", "clamd scan")


@dataclass
class Sample:
    seconds: float
    latencies: list[float]
    cpu_ms_per_file: float
    clamd_ms_per_file: float = 0.0


def process_cpu_s(pid: int | None) -> float:
    """user + system CPU of a process so far (Linux /proc); 0 without one."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def one_round(
    engine: UploadEngine, data: list[bytes], bucket: str, tag: str, clamd_pid: int | None = None
) -> Sample:
    queue = iter(enumerate(data))
    latencies: list[float] = []

    def client() -> None:
        for i, blob in queue:
            job = UploadJob(
                request_id=f"{tag}-{i}", user_id="1", file_category="gate", bucket=bucket,
                files={"doc": LocalBlob(io.BytesIO(blob), DOCUMENT_TYPE)}, max_workers=1,
            )  # fmt: skip
            started = time.perf_counter()
            outcome = engine.upload(job)
            latencies.append(time.perf_counter() - started)
            if outcome.failures:
                raise RuntimeError(f"{tag}: {dict(outcome.failures)}")

    cpu = time.process_time()
    clamd_cpu = process_cpu_s(clamd_pid)
    started = time.perf_counter()
    gevent.joinall([gevent.spawn(client) for _ in range(CLIENTS)], raise_error=True)
    seconds = time.perf_counter() - started
    return Sample(
        seconds,
        latencies,
        (time.process_time() - cpu) / len(data) * 1000,
        (process_cpu_s(clamd_pid) - clamd_cpu) / len(data) * 1000,
    )


def run_modes(
    make_settings: Callable[..., EngineSettings], bucket: str, repeat: int
) -> dict[str, list[Sample]]:
    """{mode: [Sample per round]}."""
    data = documents(FILES, SIZE)
    samples: dict[str, list[Sample]] = {mode: [] for mode in MODES}
    marker = "Bench.Marker:0:*:" + b"never-in-a-document".hex() + "\n"
    with ClamdServer({"bench.ndb": marker}, stream_max_bytes=64 * 1024 * 1024) as clamd:
        overrides: dict[str, dict[str, Any]] = {
            "gate off": {"type_check": False},
            "type check": {"type_check": True},
            "clamd scan": {"type_check": True, "clamd_address": clamd.unix_address},
        }
        engines = {mode: UploadEngine(make_settings(**overrides[mode])) for mode in MODES}
        try:
            for mode in MODES:
                one_round(engines[mode], data[:64], bucket, f"warm{mode[:4]}")
            for r in range(repeat):
                for mode in MODES:
                    pid = clamd.pid if mode == "clamd scan" else None
                    samples[mode].append(one_round(engines[mode], data, bucket, f"r{r}", pid))
        finally:
            for engine in engines.values():
                engine.close()
    return samples


def print_table(title: str, samples: dict[str, list[Sample]]) -> None:
    print(f"\n{title}")
    print(f"{'mode':<11} | {'files/s':>7} | {'p50 ms':>6} | {'p99 ms':>6} | {'cpu ms':>6} | "
          f"{'clamd ms':>8} | files/s vs off | p99 vs off")  # fmt: skip
    base = samples[MODES[0]]
    for mode in MODES:
        rows = samples[mode]
        rate = statistics.median(FILES / s.seconds for s in rows)
        p50 = statistics.median(percentile(s.latencies, 50) for s in rows) * 1000
        p99 = statistics.median(percentile(s.latencies, 99) for s in rows) * 1000
        cpu = statistics.median(s.cpu_ms_per_file for s in rows)
        clamd = statistics.median(s.clamd_ms_per_file for s in rows)
        # Paired with "gate off" of the same round: the machine's load moves both alike.
        vs_rate = statistics.median(
            o.seconds / s.seconds - 1 for s, o in zip(rows, base, strict=True)
        )
        vs_p99 = statistics.median(
            percentile(s.latencies, 99) / percentile(o.latencies, 99) - 1
            for s, o in zip(rows, base, strict=True)
        )
        print(f"{mode:<11} | {rate:>7.0f} | {p50:>6.1f} | {p99:>6.1f} | {cpu:>6.2f} | "
              f"{clamd:>8.2f} | {vs_rate * 100:>+13.1f}% | {vs_p99 * 100:>+9.1f}%")  # fmt: skip
    print("cpu ms: this process's CPU per file; clamd ms: clamd's CPU per file. vs off: the "
          "median over rounds of each round's ratio to that round's 'gate off'.")  # fmt: skip

"""End to end through Kafka: files/s and request latency, publish -> committed result.

Starts its own local stack (devstack: Java Kafka broker + moto S3 in its own keep-alive
gevent.pywsgi process), stages R requests x F small files once to the S3 staging bucket,
then for each (consumers, guarantee) runs fresh topics and a fresh group of `upload-stream
consume` subprocesses and drives them in a closed loop: W clients, each publishing one
request (RequestPublisher) and waiting until a read_committed reader sees its result.
Latency = publish call -> result seen. The baseline is `UploadEngine.upload` in this process
on the same staged files (same W, same max_workers): what the Kafka path adds on top. Every
result must be `succeeded` (a failure is fast, and would flatter a row); the consumers keep
the staged blobs, which every run shares.

Each Kafka row carries its own baseline, interleaved with it (bench/e2e_pairing.py): its
loaded requests go in PHASES parts, each followed or preceded by as many engine jobs (K E E
K ...), and each lone request is paired with one engine job. Rows and engine runs made
minutes apart differed here by more than the ratios to be measured. The engine runs in
this process rather than one of its own: while it runs, this process holds the engine and
the W client greenlets (the publisher and the reader only wait), which is what a consumer
process holds too, its engine and its loop; a subprocess would need the clients beside it,
so it would be this same process again, started differently. A run in a subprocess of its
own (same W) measured within the spread of the in-process runs.

`python -m bench.e2e_bench --gate` runs instead 1 consumer (exactly_once) three times on the
same staged files: content gate off, type check only, and clamd scanning (a clamd started
here, devstack/clamd.py), side by side.

The consumers run with their default timings (checkpoint interval, fetch.wait.max.ms
500) unless noted: that is what a deployment gets. Everything shares this machine's cores.

Each Kafka row then prints the timeline of one request (`STAGES`, p50/p99 of each stage,
1-by-1 and loaded) from wall-clock stamps: the broker's LogAppendTime of the request and
of its result (the bench's topics use it), the consumer's stamps in the result's
`timeline` header (UPLOAD_STREAM_TIMELINE=1), the result's started_at/finished_at, and
this process's publish call and the moment the reader saw the result. The consumers'
CPU per file by category comes from their `timeline` reports, taken by SIGUSR1 before and
after each phase (the 1-by-1 one includes the consumers idling through the engine's lone
jobs, ~1 % of it); the idle line is the same over IDLE_S with nothing to do. Every
process's CPU per file (clients, consumers, broker, S3) comes from /proc (process_cpu.py).
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import ExitStack, contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from confluent_kafka import Consumer  # noqa: E402
from gevent.event import Event  # noqa: E402
from gevent.pool import Pool  # noqa: E402

from bench.e2e_pairing import EngineSide, Interleaved, Side  # noqa: E402
from bench.e2e_rows import DEFAULT_ROWS, FORMAT, RowSpec, parse_row, setting_name  # noqa: E402
from bench.txn_probe import WARM_TRANSACTIONS, warm_transactions  # noqa: E402
from upload_stream_cli.demo_samples import pdf  # noqa: E402

REQUESTS = 400
SOLO_REQUESTS = 40  # one at a time: latency without queueing
WARMUP = 16
FILES_PER_REQUEST = 4
SIZES = (1024, 4 * 1024, 16 * 1024, 64 * 1024)  # one of each per request
IDLE_S = 3.0  # after the runs: what an idle consumer costs
IN_FLIGHT = 16  # closed-loop clients, one request outstanding each
MAX_WORKERS = 4  # a request's files in flight at once
PARTITIONS = 4
STAGING_PREFIX = "bench-e2e/"
_RUN_NUMBER = itertools.count(1)  # topics and group of each run are its own


@dataclass
class Row:
    path: str
    consumers: str
    guarantee: str
    note: str
    files: int
    seconds: float
    latencies: list[float]
    results: int
    solo: list[float]
    stamps: list[dict[str, float]] = field(default_factory=list)
    solo_stamps: list[dict[str, float]] = field(default_factory=list)
    cpu: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    idle_cpu: float | None = None  # a consumer's CPU seconds per second with nothing to do
    stack_cpu: dict[str, float] = field(default_factory=dict)  # loaded: role -> CPU seconds
    engine: Side | None = None  # the engine's side, interleaved with this row (e2e_pairing)

    def cells(self) -> list[str]:
        lat = sorted(self.latencies)
        return [
            self.path,
            self.consumers,
            self.guarantee,
            self.note,
            f"{self.files / self.seconds:,.0f}",
            f"{len(lat) / self.seconds:,.1f}",
            f"{percentile(lat, 50) * 1000:,.0f}",
            f"{percentile(lat, 99) * 1000:,.0f}",
            f"{percentile(sorted(self.solo), 50) * 1000:,.0f}",
            f"{percentile(sorted(self.solo), 99) * 1000:,.0f}",
            str(self.results),
        ]


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * pct // 100))
    return sorted_values[int(rank) - 1]


def payload(request: int, index: int, size: int) -> bytes:
    """A PDF, as declared when staged: a real document's head (so the type check costs what
    it costs on a PDF, not on text, where libmagic runs its regular expressions), then
    bytes unique to the file."""
    seed = f"{request}:{index}:".encode()
    head = pdf("SPECIMEN", ["bench"])
    return (head + seed * (size // len(seed) + 1))[:size]


def stage_all(stager: Any, count: int) -> list[dict[str, Any]]:
    """count requests' files, staged once (S3 stores their sha256: the consumer copies)."""
    pool = Pool(16)

    def one(i: int) -> dict[str, Any]:
        return {
            f"doc{j}": stager.stage(
                payload(i, j, size), content_type="application/pdf", filename=f"doc{j}.pdf"
            )
            for j, size in enumerate(SIZES[:FILES_PER_REQUEST])
        }

    return list(pool.imap(one, range(count)))


# (label, from, to): wall-clock stamps of one request, joined by request_id. `appended`
# values are the broker's LogAppendTime (ms resolution); consumer stamps come from the
# result's `timeline` header (UPLOAD_STREAM_TIMELINE=1) and its started_at/finished_at.
STAGES = (
    ("publish call -> request appended by the broker", "publish", "appended"),
    ("  (publish call -> acknowledged, publish returns)", "publish", "acked"),
    ("request appended -> fetched by the consumer", "appended", "fetched"),
    ("fetched -> decoded, admitted (greenlet spawned)", "fetched", "admitted"),
    ("admitted -> engine started (started_at)", "admitted", "started"),
    ("engine: files uploaded (started_at -> finished_at)", "started", "finished"),
    ("engine finished -> result encoded", "finished", "encoded"),
    ("result encoded -> result appended (checkpoint wait, produce)", "encoded", "result_appended"),
    ("result appended -> visible to read_committed (commit, fetch)", "result_appended", "visible"),
    ("total: publish call -> visible", "publish", "visible"),
)


def result_stamps(message: Any, value: dict[str, Any], visible: float) -> dict[str, float]:
    from datetime import datetime

    stamps = {"visible": visible, "result_appended": message.timestamp()[1] / 1000.0}
    for name in ("started_at", "finished_at"):
        if value.get(name):
            stamps[name.removesuffix("_at")] = datetime.fromisoformat(value[name]).timestamp()
    for key, raw in message.headers() or []:
        if key == "timeline" and raw:
            stamps.update({k: v for k, v in json.loads(raw).items() if v})
    return stamps


def stage_cells(stamps: list[dict[str, float]], start: str, end: str) -> list[str]:
    values = sorted(s[end] - s[start] for s in stamps if start in s and end in s)
    if not values:
        return ["-", "-"]
    return [f"{percentile(values, 50) * 1000:,.1f}", f"{percentile(values, 99) * 1000:,.1f}"]


def print_timeline(row: Row) -> None:
    print(f"\n  timeline, {row.consumers} x {row.guarantee}, {row.note} (ms):")
    head = ["stage", "1-by-1 p50", "1-by-1 p99", "loaded p50", "loaded p99"]
    table = [head]
    for label, start, end in STAGES:
        table.append(
            [label, *stage_cells(row.solo_stamps, start, end), *stage_cells(row.stamps, start, end)]
        )
    print_aligned(table, left=1, indent="    ")
    print_cpu(row.cpu)
    if row.idle_cpu is not None:
        print(f"    idle consumer: {row.idle_cpu * 100:.1f} % of a core")


def print_cpu(phases: dict[str, list[dict[str, Any]]]) -> None:
    """Each consumer's two `timeline` reports around a phase, subtracted and summed."""
    if not phases:
        print("    (no consumer CPU report: a consumer without UPLOAD_STREAM_TIMELINE)")
        return
    for phase, reports in phases.items():
        files = sum(r["files"] for r in reports)
        requests = sum(r["requests"] for r in reports)
        if not files:
            continue
        cpu = {c: sum(r["cpu_s"][c] for r in reports) for c in reports[0]["cpu_s"]}
        total = sum(cpu.values())
        print(
            f"    consumer CPU, {phase} ({requests} requests, {files} files): "
            f"{total * 1000 / files:.2f} ms/file, {total * 1000 / requests:.2f} ms/request "
            f"= {files / total:,.0f} files per core-second"
        )
        print("      ms/file: " + ", ".join(f"{c} {s * 1000 / files:.2f}" for c, s in cpu.items()))
        checkpoints = sum(r["checkpoints"] for r in reports)
        if checkpoints:
            print(
                f"      checkpoints: {checkpoints}, mean "
                f"{sum(r['checkpoint_s'] for r in reports) * 1000 / checkpoints:.1f} ms, "
                f"{sum(r['checkpoint_records'] for r in reports) / checkpoints:.1f} records each"
            )


def timeline_reports(log: Path) -> list[dict[str, Any]]:
    """A consumer's `timeline` lines so far (UPLOAD_STREAM_TIMELINE=1)."""
    reports = []
    for line in (log.read_text(errors="replace") if log.exists() else "").splitlines():
        if line.startswith("{") and '"timeline"' in line:
            entry = json.loads(line)
            if entry.get("msg") == "timeline":
                reports.append(entry["summary"])
    return reports


def snapshot(procs: list[Any], logs: Path) -> list[dict[str, Any]] | None:
    """SIGUSR1 to every consumer; their cumulative reports, or None without the feature."""
    logs_of = [logs / f"consumer-{n}.log" for n in range(len(procs))]
    before = [len(timeline_reports(log)) for log in logs_of]
    for proc in procs:
        proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        now = [timeline_reports(log) for log in logs_of]
        if all(len(r) > n for r, n in zip(now, before, strict=True)):
            return [r[-1] for r in now]
        gevent.sleep(0.05)
    return None


def phase(after: list[dict[str, Any]] | None, before: list[dict[str, Any]] | None) -> Any:
    if after is None or before is None:
        return None
    return [_combine(a, b, sign=-1) for a, b in zip(after, before, strict=True)]


def phase_total(phases: list[Any]) -> Any:
    """Several phases' per-consumer reports added up; None if any is missing."""
    if not phases or any(p is None for p in phases):
        return None
    total = phases[0]
    for more in phases[1:]:
        total = [_combine(a, b, sign=1) for a, b in zip(total, more, strict=True)]
    return total


def _combine(a: dict[str, Any], b: dict[str, Any], *, sign: int) -> dict[str, Any]:
    """Two `timeline` reports field by field: a + b (`sign` 1) or a - b (`sign` -1)."""
    keys = ("requests", "files", "checkpoints", "checkpoint_s", "checkpoint_records")
    out: dict[str, Any] = {k: a[k] + sign * b[k] for k in keys}
    out["cpu_s"] = {c: a["cpu_s"][c] + sign * b["cpu_s"][c] for c in a["cpu_s"]}
    return out


class ResultWatcher:
    """A read_committed reader of the results topic; wakes the client waiting on each id."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from upload_engine.offload import offload

        self._call = offload
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"e2e-bench-reader-{os.getpid()}-{topic}",
                "isolation.level": "read_committed",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                # A waiting fetch ends when a record arrives (bench.fetch_wait_probe); 10 ms
                # kept the broker busy with empty fetches through the engine phases too.
                "fetch.wait.max.ms": 100,
            }
        )
        self.consumer.subscribe([topic])
        self.waiting: dict[str, Event] = {}
        self.seen: dict[str, float] = {}
        self.stamps: dict[str, dict[str, float]] = {}
        self.count = 0
        self.not_succeeded: dict[str, str] = {}  # request_id -> status
        self._stop = False
        self._greenlet = gevent.spawn(self._run)

    def expect(self, request_id: str) -> Event:
        event = Event()
        self.waiting[request_id] = event
        return event

    def _run(self) -> None:
        # poll(t) returns at the first record; consume(n, t) waits out t unless n arrive.
        while not self._stop:
            first = self._call(self.consumer.poll, 0.05)
            if first is None:
                continue
            for message in [first, *self.consumer.consume(500, 0)]:
                if message.error():
                    continue
                now = time.perf_counter()
                wall = time.time()
                value = json.loads(message.value() or b"{}")
                request_id = value.get("request_id")
                self.count += 1
                if value.get("status") != "succeeded":
                    self.not_succeeded[request_id] = str(value.get("status"))
                self.seen.setdefault(request_id, now)
                self.stamps.setdefault(request_id, result_stamps(message, value, wall))
                event = self.waiting.pop(request_id, None)
                if event is not None:
                    event.set()

    def close(self) -> None:
        self._stop = True
        self._greenlet.join(5)
        self._call(self.consumer.close)


def closed_loop(
    requests: list[Any], work: Any, clients: int = IN_FLIGHT
) -> tuple[float, list[float]]:
    """`clients` greenlets take requests in turn and run `work(request) -> latency` each."""
    latencies: list[float] = []
    queue = iter(requests)

    def client() -> None:
        for request in queue:
            latencies.append(work(request))

    started = time.perf_counter()
    gevent.joinall([gevent.spawn(client) for _ in range(clients)], raise_error=True)
    return time.perf_counter() - started, latencies


def build(refs: list[dict[str, Any]], category: str) -> list[Any]:
    from producer_lib.builder import build_request

    return [
        build_request(
            user_id=f"u{i % 64}", files=files, file_category=category, max_workers=MAX_WORKERS
        )
        for i, files in enumerate(refs)
    ]


def run_kafka(
    stack: Any,
    refs: list[dict[str, Any]],
    consumers: int,
    guarantee: str,
    extra: dict[str, str],
    label: str | None = None,
    *,
    paired: bool = True,
    in_flight: int = IN_FLIGHT,
) -> Row:
    """One Kafka row; `paired`: with its own engine baseline, interleaved (e2e_pairing);
    `in_flight`: closed-loop clients of the loaded phases, on both sides."""
    from producer_lib.publisher import RequestPublisher
    from upload_stream_cli.devstack.kafka import create_topics
    from upload_stream_cli.devstack.process import launch, stop_process, tail
    from upload_stream_cli.devstack.stack import DOCUMENTS_BUCKET, STAGING_BUCKET

    tag = f"{guarantee[:3]}{consumers}-{next(_RUN_NUMBER)}-{os.getpid()}"
    topics = {role: f"bench.e2e.{tag}.{role}" for role in ("requests", "results", "dlq")}
    # The broker stamps each record with its append time: the timeline's `appended`.
    create_topics(
        stack.bootstrap_servers,
        topics.values(),
        PARTITIONS,
        config={"message.timestamp.type": "LogAppendTime"},
    )
    env = {
        **os.environ,
        **stack.env(),
        "UPLOAD_STREAM_GROUP_ID": f"bench-e2e-{tag}",
        "UPLOAD_STREAM_REQUESTS_TOPIC": topics["requests"],
        "UPLOAD_STREAM_RESULTS_TOPIC": topics["results"],
        "UPLOAD_STREAM_DLQ_TOPIC": topics["dlq"],
        "UPLOAD_STREAM_DEFAULT_BUCKET": DOCUMENTS_BUCKET,
        "UPLOAD_STREAM_STAGING_ALLOWLIST": f"s3://{STAGING_BUCKET}/{STAGING_PREFIX}",
        "UPLOAD_STREAM_PROCESSING_GUARANTEE": guarantee,
        "UPLOAD_STREAM_METRICS_PORT": "0",
        "UPLOAD_STREAM_STATS_INTERVAL_MS": "0",
        "UPLOAD_STREAM_SESSION_TIMEOUT_MS": "6000",
        "UPLOAD_STREAM_TIMELINE": "1",
        # Every run uploads the same staged blobs: deleting them after the first run's
        # commit would turn later runs into HEADs of absent keys (source_not_found).
        "UPLOAD_STREAM_DELETE_STAGED_AFTER_COMMIT": "false",
        **extra,
    }
    logs = Path(tempfile.mkdtemp(prefix="e2e-bench-"))
    procs = []
    baseline: EngineSide | None = None
    watcher = ResultWatcher(stack.bootstrap_servers, topics["results"])
    publisher = RequestPublisher(
        {"bootstrap.servers": stack.bootstrap_servers}, topic=topics["requests"]
    )
    try:
        for n in range(consumers):
            procs.append(
                launch(
                    [sys.executable, "-m", "upload_stream_cli.entry", "consume"],
                    log=logs / f"consumer-{n}.log",
                    env=env,
                )
            )
        wait_assigned(procs, logs, tail)

        published: dict[str, dict[str, float]] = {}

        def work(request: Any) -> float:
            done = watcher.expect(request.request_id)
            wall = time.time()
            started = time.perf_counter()
            publisher.publish(request)
            published[request.request_id] = {"publish": wall, "acked": time.time()}
            if not done.wait(60):
                raise RuntimeError(f"no result for {request.request_id} within 60 s")
            status = watcher.not_succeeded.get(request.request_id)
            if status is not None:  # a failure's speed is not the upload path's
                raise RuntimeError(f"request {request.request_id}: {status}")
            return watcher.seen[request.request_id] - started

        short = tag.rsplit("-", maxsplit=1)[0]
        category = f"bench_{short}"
        if paired:
            baseline = EngineSide(refs, f"bench_engine_{short}", MAX_WORKERS, STAGING_PREFIX)
        sides = Interleaved(baseline, FILES_PER_REQUEST)
        loop = partial(closed_loop, clients=in_flight)
        loop(build(refs[:WARMUP], category + "_warm"), work)  # connections, leaders, txns
        if baseline is not None:
            loop(baseline.jobs("warm", WARMUP), baseline.work)
        before = watcher.count
        loaded = build(refs, category)
        loaded_cpu: list[Any] = []

        def watch(run: Any) -> None:  # the consumers' CPU reports around a Kafka phase
            mark = snapshot(procs, logs)
            run()
            loaded_cpu.append(phase(snapshot(procs, logs), mark))

        sides.loaded(loaded, work, loop, watch)
        gevent.sleep(0.5)  # late duplicates (at_least_once) would show in the count
        results = watcher.count - before
        lone = build(refs[:SOLO_REQUESTS], category + "_solo")
        mark = snapshot(procs, logs)
        sides.lone(lone, work)
        after_solo = snapshot(procs, logs)
        solo_cpu = phase(after_solo, mark)
        gevent.sleep(IDLE_S)
        idle = phase(snapshot(procs, logs), after_solo)
        cpu = {
            name: diff
            for name, diff in (("loaded", phase_total(loaded_cpu)), ("1-by-1", solo_cpu))
            if diff is not None
        }
    finally:
        if baseline is not None:
            baseline.close()
        publisher.close()
        watcher.close()
        for proc in procs:
            stop_process(proc, timeout=30)
        shutil.rmtree(logs, ignore_errors=True)  # a failure already quoted the log's tail

    def stamps(requests: list[Any]) -> list[dict[str, float]]:
        ids = [r.request_id for r in requests]
        return [{**published[i], **watcher.stamps.get(i, {})} for i in ids if i in published]

    note = label or describe(extra)
    return Row(
        "kafka",
        str(consumers),
        guarantee,
        note,
        sides.kafka.files,
        sides.kafka.seconds,
        sides.kafka.latencies,
        results,
        sides.kafka.solo,
        stamps(loaded),
        stamps(lone),
        cpu,
        sum(sum(r["cpu_s"].values()) for r in idle) / IDLE_S / consumers if idle else None,
        sides.kafka.stack_cpu,
        sides.engine if sides.baseline is not None else None,
    )


def describe(extra: dict[str, str]) -> str:
    """`UPLOAD_STREAM_CHECKPOINT_INTERVAL_S=0.1` -> `checkpoint_interval_s 0.1`."""
    if not extra:
        return "defaults"
    return ", ".join(f"{setting_name(k)} {v}" for k, v in extra.items())


def wait_assigned(procs: list[Any], logs: Path, tail: Any) -> None:
    deadline = time.monotonic() + 60
    for n, proc in enumerate(procs):
        log = logs / f"consumer-{n}.log"
        while "assigned" not in (log.read_text() if log.exists() else ""):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"consumer {n} did not get partitions:\n{tail(log)}")
            gevent.sleep(0.1)
    gevent.sleep(1.0)  # let a second member's rebalance settle


def baseline_row(row: Row) -> Row:
    """A row's engine side as a row of its own, for the tables."""
    side = row.engine or Side()
    return Row(
        "engine.upload", "-", "-", "paired with the row above", side.files, side.seconds,
        side.latencies, len(side.latencies), side.solo, stack_cpu=side.stack_cpu,
    )  # fmt: skip


def print_against_baseline(rows: list[Row]) -> None:
    """Each row against its own engine side: files/s, loaded p50, and a lone request's
    p50 and the median of its paired differences (each lone request minus the engine job
    run next to it)."""
    print(
        "\nKafka path vs engine.upload in this process, each row against the engine phases"
        "\ninterleaved with it (bench/e2e_pairing.py):"
    )
    for row in rows:
        side = row.engine
        if side is None or not side.seconds or not side.solo:
            continue
        ratio = (row.files / row.seconds) / (side.files / side.seconds)
        loaded = percentile(sorted(row.latencies), 50) - percentile(sorted(side.latencies), 50)
        lone = percentile(sorted(row.solo), 50) - percentile(sorted(side.solo), 50)
        paired = statistics.median(k - e for k, e in zip(row.solo, side.solo, strict=True))
        print(
            f"  {row.consumers} x {row.guarantee:<13} {row.note:<30} files/s x{ratio:.2f}; "
            f"loaded p50 {loaded * 1000:+,.0f} ms; 1-by-1 p50 {lone * 1000:+,.1f} ms "
            f"(paired median {paired * 1000:+,.1f} ms)"
        )


@contextmanager
def own_stack(s3_latency: float) -> Iterator[Any]:
    """Our own broker and S3 (never someone else's); with `s3_latency`, S3 is the engine
    benchmark's keep-alive moto that waits that long before each request."""
    from upload_stream_cli.devstack.s3 import FAKE_AWS_ENV
    from upload_stream_cli.devstack.stack import S3_ENV, Stack

    with ExitStack() as stack_of:
        environ: dict[str, str] = {}
        if s3_latency:
            from bench.engine_bench import latency_server

            environ[S3_ENV] = stack_of.enter_context(latency_server(s3_latency)).endpoint
            os.environ.update(FAKE_AWS_ENV)  # it is our moto: its fake credentials
        stack = Stack(environ=environ, use_docker=False)
        try:
            stack.start()
            stack.provision(partitions=PARTITIONS)
            yield stack
        finally:
            stack.close()


def print_table(rows: list[Row]) -> None:
    head = [
        "path",
        "consumers",
        "guarantee",
        "settings",
        "files/s",
        "req/s",
        "p50 ms",
        "p99 ms",
        "1-by-1 p50",
        "1-by-1 p99",
        "results",
    ]
    print_aligned([head, *(row.cells() for row in rows)], left=4, indent="  ")


def print_aligned(table: list[list[str]], *, left: int, indent: str) -> None:
    """A header row, a rule, then the rows: the first `left` columns flush left."""
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for i, r in enumerate(table):
        cells = (
            c.ljust(w) if j < left else c.rjust(w)
            for j, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        print(indent + "  ".join(cells))
        if i == 0:
            print(indent + "  ".join("-" * w for w in widths))


STACK_ROLES = ("clients", "consumers", "broker", "s3", "clamd", "other")


def print_stack_cpu(rows: list[Row]) -> None:
    """Each process's CPU per file in the loaded phase, by role, and the cores busy: on
    shared cores, what the Kafka path spends beside the engine's work is what its rows
    lose. `clients` is this process: the engine itself in the engine rows, the
    publisher, the reader and the client greenlets in the Kafka rows."""
    roles = [r for r in STACK_ROLES if any(row.stack_cpu.get(r) for row in rows)]
    if not roles:
        return
    print("\n  CPU per file in the loaded phase, by process (ms/file), and cores busy:")
    head = ["row", *roles, "total", "cores busy"]
    table = [head]
    for row in rows:
        if not row.stack_cpu:
            continue
        per_file = {r: row.stack_cpu.get(r, 0.0) * 1000 / row.files for r in roles}
        total = sum(row.stack_cpu.values())
        table.append(
            [
                f"{row.consumers} x {row.guarantee} {row.note}",
                *(f"{per_file[r]:.2f}" for r in roles),
                f"{total * 1000 / row.files:.2f}",
                f"{total / row.seconds:.2f}",
            ]
        )
    print_aligned(table, left=1, indent="    ")


GATE_MODES = ("gate off", "type check", "clamd scan")


def gate_rows(stack: Any, refs: list[dict[str, Any]]) -> list[Row]:
    """`--gate`: 1 consumer, exactly_once, with the content gate off, type check only, and
    clamd scanning (Debian's clamd, devstack/clamd.py, one-signature database). The staged
    objects carry their sha256, so the consumer copies them server-side: the type check
    costs a ranged GET of each head (sent with the HEAD), the scan none (its streamed GET
    replaces the HEAD). The modes
    run in the order off, type, scan, scan, type, off, so a machine whose load drifts
    during the run weighs on each alike; each row pools its two runs."""
    from upload_stream_cli.devstack.clamd import ClamdServer

    marker = "Bench.Marker:0:*:" + b"never-in-a-document".hex() + "\n"
    rows = []
    with ClamdServer({"bench.ndb": marker}, stream_max_bytes=64 * 1024 * 1024) as clamd:
        env = {
            "gate off": {"UPLOAD_STREAM_TYPE_CHECK": "false"},
            "type check": {"UPLOAD_STREAM_TYPE_CHECK": "true"},
            "clamd scan": {"UPLOAD_STREAM_CLAMD_ADDRESS": clamd.unix_address},
        }
        runs: dict[str, list[Row]] = {mode: [] for mode in GATE_MODES}
        for n, mode in enumerate([*GATE_MODES, *reversed(GATE_MODES)]):
            label = f"{mode} {n // len(GATE_MODES) + 1}"
            runs[mode].append(
                run_kafka(stack, refs, 1, "exactly_once", env[mode], label=label, paired=False)
            )
            print(f"  ... {label} done", flush=True)
    for mode in GATE_MODES:
        first, second = runs[mode]
        rows.append(pooled(first, second, note=mode))
    return rows


def pooled(first: Row, second: Row, note: str) -> Row:
    """Two runs of one row as one: files over seconds, latencies and CPU reports together."""
    cpu = {
        phase: first.cpu.get(phase, []) + second.cpu.get(phase, [])
        for phase in {**first.cpu, **second.cpu}
    }
    return Row(
        first.path, first.consumers, first.guarantee, note,
        first.files + second.files, first.seconds + second.seconds,
        first.latencies + second.latencies, first.results + second.results,
        first.solo + second.solo, cpu=cpu,
        stack_cpu={
            role: first.stack_cpu.get(role, 0.0) + second.stack_cpu.get(role, 0.0)
            for role in {**first.stack_cpu, **second.stack_cpu}
        },
    )  # fmt: skip


def _row_argument(text: str) -> RowSpec:
    try:
        return parse_row(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number from 1")
    return int(text)


def main() -> None:
    from producer_lib.s3_staging import S3Stager
    from upload_engine.offload import offload
    from upload_stream_cli.devstack.s3 import s3_client
    from upload_stream_cli.devstack.stack import STAGING_BUCKET

    # librdkafka's start-up retries ("coordinator load in progress") are not results.
    logging.getLogger("producer_lib.librdkafka").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(prog="python -m bench.e2e_bench")
    parser.add_argument(
        "--s3-latency",
        type=float,
        default=0.0,
        help="seconds injected before each S3 request (bench/latency_s3.py); default none",
    )
    parser.add_argument(
        "--rows",
        nargs="+",
        type=_row_argument,
        default=DEFAULT_ROWS,
        metavar="ROW",
        help=f"rows to run, in order, each {FORMAT} (bench/e2e_rows.py); default: "
        + " ".join(row.text for row in DEFAULT_ROWS),
    )
    parser.add_argument(
        "--in-flight",
        type=_positive_int,
        default=IN_FLIGHT,
        metavar="N",
        help=f"closed-loop clients of the loaded phases (default {IN_FLIGHT})",
    )
    parser.add_argument(
        "--gate", action="store_true", help="content gate off / type check / clamd scan"
    )
    args = parser.parse_args()
    cores = os.cpu_count()
    mean_kib = sum(SIZES[:FILES_PER_REQUEST]) / FILES_PER_REQUEST / 1024
    print(
        f"{REQUESTS} requests x {FILES_PER_REQUEST} files "
        f"({', '.join(f'{s // 1024} KiB' for s in SIZES[:FILES_PER_REQUEST])}; "
        f"mean {mean_kib:.2f} KiB), {args.in_flight} requests in flight (closed loop), "
        f"max_workers {MAX_WORKERS}, {PARTITIONS} partitions"
    )
    print(
        f"machine: {cores} cores. The producer + result reader (this process), the "
        f"consumer(s), the Kafka broker (JVM) and moto S3 all share them, so a second "
        f"consumer adds little here; on {cores} cores this measures the stack's CPU cost, "
        f"not the network."
    )
    print("latency: RequestPublisher.publish call -> result seen by a read_committed reader;")
    print(f"  '1-by-1': {SOLO_REQUESTS} more requests, one at a time (no queueing)")
    print(
        "source: S3 staging on the same endpoint (per file: HEAD, the type check's ranged"
        " GET, server-side copy)"
    )
    if args.s3_latency:
        print(f"S3: {args.s3_latency * 1000:.0f} ms injected before every request")
    started = time.monotonic()
    with own_stack(args.s3_latency) as stack:
        os.environ.update(stack.env())  # this process's engine and stager use the local S3
        stager = S3Stager(
            STAGING_BUCKET,
            STAGING_PREFIX,
            client=s3_client(stack.s3_endpoint, fake_credentials=True),
        )
        refs = stage_all(stager, REQUESTS)
        warmed = offload(warm_transactions, stack.bootstrap_servers, WARM_TRANSACTIONS)
        print(
            f"stack up and {REQUESTS * FILES_PER_REQUEST} files staged in "
            f"{time.monotonic() - started:.1f} s (the broker warmed with "
            f"{WARM_TRANSACTIONS:,} transactions in {warmed:.1f} s: txn_probe.py)\n",
            flush=True,
        )
        if args.gate:
            rows = gate_rows(stack, refs)
            print()
            print_table(rows)
            base = rows[0].files / rows[0].seconds
            base_p99 = percentile(sorted(rows[0].latencies), 99)
            for row in rows[1:]:
                print(
                    f"  {row.note}: files/s {(row.files / row.seconds / base - 1) * 100:+.1f} %,"
                    f" p99 {(percentile(sorted(row.latencies), 99) / base_p99 - 1) * 100:+.1f} %"
                    " vs gate off"
                )
            print_stack_cpu(rows)
            for row in rows:  # what the gate costs the consumer, apart from S3's side
                print(f"\n  {row.note}:")
                print_cpu(row.cpu)
            print(f"\n(total {time.monotonic() - started:.0f} s)")
            return
        kafka = []
        for spec in args.rows:
            row = run_kafka(
                stack, refs, spec.consumers, spec.guarantee, spec.env, in_flight=args.in_flight
            )
            kafka.append(row)
            print(f"  ... {spec.text} done", flush=True)
    print()
    print_table([r for row in kafka for r in (row, baseline_row(row))])
    print_stack_cpu([r for row in kafka for r in (row, baseline_row(row))])
    for row in kafka:
        print_timeline(row)
    print_against_baseline(kafka)
    print(f"\n(total {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()

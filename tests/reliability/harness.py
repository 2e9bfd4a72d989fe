"""Shared machinery of the reliability tests: the fault proxy process, a paced publisher,
a timed read_committed reader, an RSS sampler and the audit that counts lost, duplicated
and corrupt work. Consumers and readers come from the `consumer_rig` fixture
(tests/conftest.py), which always cleans them up.

Randomness is always a seeded `random.Random`; waits are conditions with deadlines.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from confluent_kafka import Producer

from tests.integration.consumer_helpers import (
    ConsumerProcess,
    Read,
    Reader,
    encode,
    request,
)
from upload_engine.offload import offload

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MiB = 1024 * 1024


# -- the fault proxy ---------------------------------------------------------------------


class FaultProxy:
    """`faultproxy.py` in its own process, in front of `upstream`; see its docstring."""

    def __init__(self, upstream: str, plan: dict[str, Any], log_path: Path) -> None:
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "faultproxy.py"),
                "--upstream",
                upstream,
                "--config",
                json.dumps(plan),
            ],
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=REPO,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()  # cooperative under gevent
        if not line.startswith("PORT "):
            self.close()
            raise AssertionError(f"fault proxy did not start: {line!r}; see {log_path}")
        self.port = int(line.split()[1])
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, int]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/__proxy__/stats")
            stats: dict[str, int] = json.loads(conn.getresponse().read())
            return stats
        finally:
            conn.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


# -- staged payloads and requests --------------------------------------------------------


@dataclass(frozen=True)
class Staged:
    ref: dict[str, Any]
    sha256: str
    size: int


def stage_bytes(
    directory: Path,
    name: str,
    data: bytes,
    content_type: str = "application/pdf",
    filename: str | None = "doc.pdf",
) -> Staged:
    path = directory / name
    path.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    ref = {
        "uri": f"file://{path}",
        "size": len(data),
        "sha256": sha,
        "content_type": content_type,
        "filename": filename,
    }
    return Staged(ref, sha, len(data))


def payload(rng: random.Random, label: str, size: int = 256) -> bytes:
    """Seeded, unique bytes: the label makes each distinct, the rest is noise."""
    head = f"{label}|".encode()
    return head + rng.randbytes(max(0, size - len(head)))


@dataclass
class Expected:
    """What the audit expects: request_id -> user and file_type -> sha256."""

    files: dict[str, dict[str, str]] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)

    def add(self, request_id: str, user: str, shas: dict[str, str]) -> None:
        self.files[request_id] = shas
        self.users[request_id] = user


def simple_requests(
    staging: Path, count: int, *, seed: int, prefix: str, users: int = 17, size: int = 256
) -> tuple[list[tuple[bytes, bytes, None]], Expected]:
    """`count` one-file requests with seeded content, and what they must produce."""
    rng = random.Random(seed)
    records = []
    expected = Expected()
    for i in range(count):
        rid = f"{prefix}-{i:05d}"
        user = f"user{i % users}"
        staged = stage_bytes(staging, f"{rid}.pdf", payload(rng, rid, size))
        records.append((user.encode(), encode(request(rid, user, {"passport": staged.ref})), None))
        expected.add(rid, user, {"passport": staged.sha256})
    return records, expected


# -- Kafka: paced publishing and timed reading -------------------------------------------


class Publisher:
    """A producer in the test process; remembers when each request was handed to it."""

    def __init__(self, bootstrap: str, topic: str, config: dict[str, Any] | None = None) -> None:
        self.topic = topic
        self.sent_at: dict[str, float] = {}
        self.failed: list[str] = []
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "linger.ms": 5,
                "enable.idempotence": True,
                **(config or {}),
            }
        )

    def send(
        self,
        request_id: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, Any]] | None = None,
    ) -> None:
        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                self.failed.append(request_id)

        while True:
            try:
                self._producer.produce(
                    self.topic, key=key, value=value, headers=headers or [], on_delivery=delivered
                )
                break
            except BufferError:
                self._producer.poll(0)
                gevent.sleep(0.01)
        self.sent_at.setdefault(request_id, time.monotonic())
        self._producer.poll(0)

    def paced(self, items: Iterable[tuple[str, bytes, bytes]], per_second: float) -> None:
        start = time.monotonic()
        for n, (rid, key, value) in enumerate(items):
            due = start + n / per_second
            delay = due - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            self.send(rid, key, value)

    def flush(self, timeout: float = 60.0) -> None:
        remaining = offload(self._producer.flush, timeout)
        assert remaining == 0, f"{remaining} requests not delivered to Kafka"
        assert not self.failed, f"{len(self.failed)} requests failed delivery"


class TimedReader(Reader):
    """A read_committed reader that notes when each record became visible to it."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.seen_at: list[float] = []

    def poll(self, seconds: float = 0.2) -> None:
        super().poll(seconds)
        now = time.monotonic()
        self.seen_at.extend([now] * (len(self.records) - len(self.seen_at)))

    def distinct(self, topic: str) -> int:
        return len({r.json().get("request_id") for r in self.of(topic)})

    def first_seen(self, topic: str) -> dict[str, float]:
        first: dict[str, float] = {}
        for record, at in zip(self.records, self.seen_at, strict=True):
            if record.topic == topic:
                first.setdefault(record.json().get("request_id"), at)
        return first


def pump(reader: Reader, stop: Callable[[], bool]) -> gevent.Greenlet:
    """Keep `reader` polling in a greenlet until `stop()`."""

    def run() -> None:
        while not stop():
            reader.poll(0.2)

    return gevent.spawn(run)


# -- process observation -----------------------------------------------------------------


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class RssSampler:
    """VmRSS of a process every `interval` seconds, in a greenlet."""

    def __init__(self, pid: int, interval: float = 1.0) -> None:
        self.samples: list[int] = []
        self._stop = False
        self._greenlet = gevent.spawn(self._run, pid, interval)

    def _run(self, pid: int, interval: float) -> None:
        while not self._stop:
            value = rss_kib(pid)
            if value is None:
                return
            self.samples.append(value)
            gevent.sleep(interval)

    def stop(self) -> None:
        self._stop = True
        self._greenlet.join(timeout=5)

    def quarter_means_mib(self) -> tuple[float, float]:
        """Mean RSS (MiB) of the second and of the last quarter of the samples."""
        s = self.samples
        q = max(1, len(s) // 4)
        second, last = s[q : 2 * q] or s, s[-q:]
        return sum(second) / len(second) / 1024, sum(last) / len(last) / 1024

    @property
    def peak_mib(self) -> float:
        return max(self.samples, default=0) / 1024


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


# -- the audit ---------------------------------------------------------------------------


def list_keys(s3: Any, bucket: str) -> dict[str, int]:
    keys: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            keys[item["Key"]] = item["Size"]
    return keys


def all_keys(s3: Any) -> set[tuple[str, str]]:
    """Every (bucket, key) on the S3 endpoint."""
    found: set[tuple[str, str]] = set()
    for bucket in s3.list_buckets().get("Buckets", []):
        found |= {(bucket["Name"], k) for k in list_keys(s3, bucket["Name"])}
    return found


@dataclass
class Audit:
    sent: int
    committed: int = 0
    duplicates: int = 0
    unexpected: int = 0
    missing: int = 0
    corrupt: int = 0
    not_succeeded: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (
            self.duplicates
            or self.unexpected
            or self.missing
            or self.corrupt
            or self.not_succeeded
            or self.committed != self.sent
        )


def audit(results: list[Read], expected: Expected, s3: Any, bucket: str) -> Audit:
    """Count lost, duplicated and corrupt work.

    - committed: distinct expected request_ids with a committed result;
    - duplicates: committed results beyond the first per request_id;
    - missing: expected files without an object in the bucket (no result, a failure, or a
      reported key that is not there);
    - corrupt: objects whose bytes do not hash to the expected sha256 (or the reported one),
      or whose key does not name that sha256.
    """
    report = Audit(sent=len(expected.files))
    parsed = [r.json() for r in results]
    counts = Counter(p["request_id"] for p in parsed)
    report.committed = len(set(counts) & set(expected.files))
    report.duplicates = sum(n - 1 for n in counts.values())
    report.unexpected = len(set(counts) - set(expected.files))
    listing = list_keys(s3, bucket)
    first = {}
    for p in parsed:
        first.setdefault(p["request_id"], p)
    for rid, shas in expected.files.items():
        result = first.get(rid)
        if result is None:
            report.missing += len(shas)
            continue
        if result["status"] != "succeeded":
            report.not_succeeded[rid] = json.dumps(result.get("failures") or result.get("error"))
        for file_type, sha in shas.items():
            obj = (result.get("objects") or {}).get(file_type)
            if obj is None or obj["key"] not in listing:
                report.missing += 1
                continue
            body = s3.get_object(Bucket=obj["bucket"], Key=obj["key"])["Body"].read()
            actual = hashlib.sha256(body).hexdigest()
            if not (
                actual == sha == obj["sha256"] and sha in obj["key"] and len(body) == obj["size"]
            ):
                report.corrupt += 1
                report.problems.append(f"{rid}/{file_type}: {obj['key']} hashes to {actual}")
    return report


def env_with(base: dict[str, str], **extra: str) -> dict[str, str]:
    return {**base, **extra}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_exit(process: ConsumerProcess, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while process.proc.poll() is None and time.monotonic() < deadline:
        gevent.sleep(0.05)
    return process.proc.poll()

"""The upload engine against a plain loop and boto3's thread-based transfer manager.

N files of 64 KiB through an S3 endpoint that adds L seconds to every request (a
keep-alive moto in its own process, see latency_s3.py), at concurrency K. Ideal time is
ceil(N/K) * L: one round trip per small file. Also: the seed guide's table with real
numbers, and the peak RSS of one 1 GiB upload. Not part of `make test`.
"""

from gevent import monkey

monkey.patch_all()

import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from typing import Any  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from consumer.engine import LocalBlob, UploadEngine, UploadJob  # noqa: E402
from consumer.settings import EngineSettings  # noqa: E402

N = 256
SIZE = 64 * 1024
LATENCY = 0.05
KS = (1, 4, 16, 32, 64)
SEED_COUNTS = (2, 4, 8, 16)
BIG = 1024**3
# The server's discarding bucket: moto itself costs ~5-8 ms of server CPU per PutObject, so
# at K >= 16 a moto bucket measures moto, not the client (first run: 3.2 s at K=16 for the
# engine and 1.3-1.9 s for s3transfer, all CPU-bound in the one-process server).
BUCKET = "sink"


@contextmanager
def latency_server(latency: float) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.latency_s3", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"benchmark S3 server did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def payloads(n: int) -> list[bytes]:
    return [i.to_bytes(4, "big") * (SIZE // 4) for i in range(n)]


def engine_time(engine: UploadEngine, data: list[bytes], k: int, tag: str) -> float:
    files: dict[str, Any] = {
        f"f{i}": LocalBlob(io.BytesIO(blob), "application/octet-stream")
        for i, blob in enumerate(data)
    }
    job = UploadJob(
        request_id=tag, user_id="1", file_category=tag, bucket=BUCKET, files=files, max_workers=k
    )
    started = time.perf_counter()
    outcome = engine.upload(job)
    elapsed = time.perf_counter() - started
    if outcome.failures:
        raise RuntimeError(f"engine failures: {dict(outcome.failures)}")
    return elapsed


def sequential_time(endpoint: str, data: list[bytes]) -> float:
    """A plain loop with a default boto3 client (so with botocore's Expect: 100-continue)."""
    client = boto3.client(
        "s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"})
    )
    client.put_object(Bucket=BUCKET, Key="seq/warm-up", Body=b"x")
    started = time.perf_counter()
    for i, blob in enumerate(data):
        client.put_object(Bucket=BUCKET, Key=f"seq/{i}", Body=blob)
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed


def peer_times(endpoint: str) -> dict[int, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.s3transfer_peer", "--endpoint", endpoint, "--bucket", BUCKET,
         "--ks", ",".join(map(str, KS)), "--n", str(N), "--size", str(SIZE)],
        check=True, capture_output=True, text=True, env={**os.environ},
    )  # fmt: skip
    return {int(k): v for k, v in json.loads(out.stdout).items()}


def rss_probe(endpoint: str) -> dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.rss_probe", "--endpoint", endpoint, "--size", str(BIG)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    report: dict[str, Any] = json.loads(proc.stdout.read())
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = status
    report["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)  # Linux: KiB
    return report


FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def main() -> None:
    # The local moto endpoint only: never real credentials, never real AWS.
    os.environ.update(FAKE_AWS)
    with latency_server(LATENCY) as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        settings = EngineSettings(
            max_concurrency=64, staging_allowlist=[], s3_addressing_style="path"
        )
        engine = UploadEngine(settings)
        data = payloads(N)
        engine_time(engine, data[:64], 64, "warmup")

        sequential = sequential_time(endpoint, data)
        ours = {k: engine_time(engine, data, k, f"k{k}") for k in KS}
        peer = peer_times(endpoint)

        print(f"\n{N} files x {SIZE // 1024} KiB, {LATENCY * 1000:.0f} ms per request; "
              f"plain sequential loop (default boto3 client): {sequential:.2f} s")  # fmt: skip
        print(f"{'K':>3} {'ideal s':>8} | {'engine s':>8} {'speedup':>7} {'eff':>5} | "
              f"{'s3transfer s':>12} {'speedup':>7} {'eff':>5} | engine/peer")  # fmt: skip
        for k in KS:
            ideal = math.ceil(N / k) * LATENCY
            print(f"{k:>3} {ideal:>8.2f} | {ours[k]:>8.2f} {sequential / ours[k]:>6.1f}x "
                  f"{ideal / ours[k]:>5.2f} | {peer[k]:>12.2f} {sequential / peer[k]:>6.1f}x "
                  f"{ideal / peer[k]:>5.2f} | {peer[k] / ours[k]:>5.2f}x faster")  # fmt: skip

        print(f"\nSeed guide's table, measured: {SIZE // 1024} KiB files, one "
              f"{LATENCY * 1000:.0f} ms round trip each, the engine at 1 vs 4 workers")  # fmt: skip
        print(f"{'Files':>5} | {'Sequential':>10} | {'Concurrent (4)':>14} | Improvement")
        for count in SEED_COUNTS:
            one = engine_time(engine, data[:count], 1, f"seed{count}")
            four = engine_time(engine, data[:count], 4, f"seed{count}")
            print(f"{count:>5} | {one:>9.3f}s | {four:>13.3f}s | {(1 - four / one) * 100:>10.0f}%")
        engine.close()

        report = rss_probe(endpoint)
        print(f"\n1 GiB staged file, multipart ({report['part_bytes'] // 1024**2} MiB parts) to a "
              f"discarding endpoint: {report['seconds']} s, peak RSS {report['peak_rss_mib']} MiB "
              f"(RSS before the upload {report['rss_before_upload_kib'] // 1024} MiB); "
              f"uploaded={report['uploaded']} failures={report['failures']}")  # fmt: skip


if __name__ == "__main__":
    main()

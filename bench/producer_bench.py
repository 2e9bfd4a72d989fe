"""Producer library benchmarks: `publish` throughput and peak RSS while staging 1 GiB.

- Throughput: 1,000 small requests through RequestPublisher against a real broker
  (`KAFKA_BOOTSTRAP_SERVERS`, else the local stack's broker): one `publish_batch`, 1,000
  sequential `publish` calls (each waits for its acknowledgement), and 1,000 `publish`
  calls from 50 greenlets at once.
- Peak RSS: a child process stages a 1 GiB (sparse) file, to S3 (the benchmark server's
  discarding `sink` bucket, see latency_s3.py) and to a shared directory; its ru_maxrss
  is read with wait4, so it includes the interpreter and every import.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from bench.local_kafka import kafka  # noqa: E402

BIG = 1024**3
REQUESTS = 1000
GREENLETS = 50
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@contextmanager
def sink_endpoint() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.latency_s3", "--latency", "0"],
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


def rss_child(target: str, size: int) -> None:
    """In the child: stage one sparse file of `size` bytes and print a JSON report."""
    import boto3
    from botocore.config import Config

    from producer_lib.dir_staging import DirStager
    from producer_lib.s3_staging import S3Stager
    from producer_lib.staging import Stager

    with tempfile.TemporaryDirectory(prefix="producer-bench-") as root:
        source = Path(root) / "big.mp4"
        with source.open("wb") as sparse:
            sparse.truncate(size)
        stager: Stager
        if target == "s3":
            client = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
            stager = S3Stager("sink", "staged/", client=client)
        else:
            stager = DirStager(Path(root) / "staging")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        ref = stager.stage(source)
        seconds = time.perf_counter() - started
    print(json.dumps({"size": ref.size, "seconds": round(seconds, 2), "before_kib": before}))


def measure_rss(target: str, size: int) -> dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.producer_bench", "--rss-child", target, "--size", str(size)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    report: dict[str, Any] = json.loads(proc.stdout.read())
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = status
    report["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
    report["before_mib"] = round(report["before_kib"] / 1024, 1)
    return report


def _requests(n: int) -> list[Any]:
    from producer_lib.builder import build_request
    from schemas import BlobRef

    ref = BlobRef(
        uri="s3://staging-bucket/staged/0123456789abcdef0123456789abcdef",
        size=1024,
        sha256="a" * 64,
        content_type="image/jpeg",
        filename="passport.jpg",
    )
    return [build_request(user_id=f"user{i % 97}", files={"passport": ref}) for i in range(n)]


def publish_throughput(bootstrap: str, topic: str) -> dict[str, float]:
    from producer_lib.publisher import RequestPublisher

    publisher = RequestPublisher({"bootstrap.servers": bootstrap}, topic=topic)
    publisher.publish_batch(_requests(10))  # warm-up: metadata, idempotent producer id
    rates: dict[str, float] = {}

    batch = _requests(REQUESTS)
    started = time.perf_counter()
    publisher.publish_batch(batch)
    rates["one publish_batch of 1,000"] = REQUESTS / (time.perf_counter() - started)

    single = _requests(REQUESTS)
    started = time.perf_counter()
    for request in single:
        publisher.publish(request)
    rates["1,000 sequential publish()"] = REQUESTS / (time.perf_counter() - started)

    spread = _requests(REQUESTS)
    per = REQUESTS // GREENLETS

    def worker(part: list[Any]) -> None:
        for request in part:
            publisher.publish(request)

    threads = [
        threading.Thread(target=worker, args=(spread[i * per : (i + 1) * per],))
        for i in range(GREENLETS)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rates[f"1,000 publish() from {GREENLETS} greenlets"] = REQUESTS / (
        time.perf_counter() - started
    )
    publisher.close()
    return rates


def main() -> None:
    # The local endpoints only: never real credentials, never real AWS.
    os.environ.update(FAKE_AWS)
    with sink_endpoint() as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        print("Peak RSS of a process staging one 1 GiB file (whole process, imports included)")
        for target in ("s3", "dir"):
            r = measure_rss(target, BIG)
            print(
                f"  {target:>3}: peak RSS {r['peak_rss_mib']:>6.1f} MiB (before staging "
                f"{r['before_mib']:.1f} MiB), {r['seconds']:.1f} s, size {r['size']}"
            )

    from upload_stream_cli.devstack.kafka import create_topics

    with kafka() as bootstrap:
        topic = f"bench.requests.{os.getpid()}"
        create_topics(bootstrap, [topic], 3)
        print(f"\npublish throughput, {REQUESTS} small requests (acks=all, idempotent)")
        for label, rate in publish_throughput(bootstrap, topic).items():
            print(f"  {label:<34} {rate:>8.0f} requests/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.producer_bench")
    parser.add_argument("--rss-child", choices=["s3", "dir"])
    parser.add_argument("--size", type=int, default=BIG)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, args.size)
    else:
        main()

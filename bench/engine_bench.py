"""The upload engine, the seed's `AWSService` on top of it, a plain loop and boto3's
thread-based transfer manager.

N files of 64 KiB (bench/payloads.py: PDFs, declared as such) through an S3 endpoint that
adds L seconds to every request (a keep-alive moto in its own process, see latency_s3.py),
at concurrency K. Ideal time is
ceil(N/K) * L: one round trip per small file. Also: the seed guide's table with real
numbers, and the peak RSS of one 1 GiB upload. Not part of `make test`.

The two sides do not run the same code per PUT: the engine sends its small PUTs by its lean
signed path (fast_put.py, ~0.5 ms CPU per PUT), the peer through botocore's full request
pipeline (~1.3 ms); `UPLOAD_STREAM_S3_FAST_PUT=false` puts the engine on botocore too.

`AWSService.upload_files_concurrently` (direct mode: the engine in-process, with the
engine's own client) runs twice: here, in this gevent-patched process (gevent web workers),
and in an unpatched process of its own (bench/aws_service_unpatched.py: Django's test
runner and dev server, sync workers), where the engine's greenlets hand files to threads.

`python -m bench.engine_bench [--repeat R]` (default 3) runs every side R times over all K
and prints the median and the min-max spread of each, plus the CPU each side and the
server spent per file: the client is one process on one core
(greenlets or the GIL), so its CPU per file bounds throughput at high K; the server must
not be the bottleneck, so its CPU is printed too. The 1 GiB probe uses the sink bucket.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import boto3  # noqa: E402
import urllib3  # noqa: E402
from botocore.config import Config  # noqa: E402

from bench.payloads import DOCUMENT_TYPE, documents, named  # noqa: E402
from producer_lib import AWSService  # noqa: E402
from upload_engine import LocalBlob, UploadEngine, UploadJob  # noqa: E402
from upload_engine.settings import EngineSettings  # noqa: E402

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
SIDES = ("engine", "AWSService", "AWSService, unpatched", "s3transfer")


@dataclass(frozen=True)
class Server:
    endpoint: str
    pid: int

    def cpu_s(self) -> float:
        """user + system CPU the server process has used so far (Linux /proc)."""
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def latency_server(latency: float) -> Iterator[Server]:
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
        yield Server(f"http://127.0.0.1:{int(line.split()[1])}", proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_ms_per_file: float  # the client process
    server_ms_per_file: float


def engine_run(engine: UploadEngine, server: Server, data: list[bytes], k: int, tag: str) -> Run:
    files: dict[str, Any] = {
        f"f{i}": LocalBlob(io.BytesIO(blob), DOCUMENT_TYPE) for i, blob in enumerate(data)
    }
    job = UploadJob(
        request_id=tag, user_id="1", file_category=tag, bucket=BUCKET, files=files, max_workers=k
    )
    server_cpu = server.cpu_s()
    cpu = time.process_time()
    started = time.perf_counter()
    outcome = engine.upload(job)
    elapsed = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu) / len(data) * 1000
    server_ms = (server.cpu_s() - server_cpu) / len(data) * 1000
    if outcome.failures:
        raise RuntimeError(f"engine failures: {dict(outcome.failures)}")
    return Run(elapsed, cpu_ms, server_ms)


def aws_service_run(service: AWSService, server: Server, data: list[bytes], k: int) -> Run:
    files = named(data)
    server_cpu = server.cpu_s()
    cpu = time.process_time()
    started = time.perf_counter()
    urls = service.upload_files_concurrently(
        user_id=1, files=files, file_category=f"aws-k{k}", bucket_name=BUCKET, max_workers=k
    )
    elapsed = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu) / len(data) * 1000
    server_ms = (server.cpu_s() - server_cpu) / len(data) * 1000
    if len(urls) != len(data):
        raise RuntimeError(f"AWSService uploaded {len(urls)} of {len(data)} files")
    return Run(elapsed, cpu_ms, server_ms)


def engine_time(engine: UploadEngine, server: Server, data: list[bytes], k: int, tag: str) -> float:
    return engine_run(engine, server, data, k, tag).seconds


def round_trip_floor(server: Server) -> float:
    """Median seconds of one bare 64 KiB PUT through the server (raw urllib3, no SDK): L
    plus the server's own work and timer/wake-up slack, the least any client can take."""
    url = urllib3.util.parse_url(server.endpoint)
    pool = urllib3.HTTPConnectionPool(url.host or "127.0.0.1", url.port, maxsize=1)
    body = bytes(SIZE)
    times = []
    for i in range(25):
        started = time.perf_counter()
        pool.urlopen("PUT", f"/{BUCKET}/floor/{i}", body=body, retries=False).read()
        times.append(time.perf_counter() - started)
    pool.close()
    return statistics.median(times[5:])


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


def subprocess_runs(server: Server, module: str) -> dict[int, Run]:
    """A side that runs unpatched in a process of its own (`python -m bench.<module>`)."""
    server_cpu = server.cpu_s()
    out = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", "--endpoint", server.endpoint,
         "--bucket", BUCKET, "--ks", ",".join(map(str, KS)), "--n", str(N), "--size", str(SIZE)],
        check=True, capture_output=True, text=True, env={**os.environ},
    )  # fmt: skip
    # The server's CPU over the whole process (warm-ups included), spread over its files.
    server_ms = (server.cpu_s() - server_cpu) / (N * len(KS)) * 1000
    return {
        int(k): Run(v["seconds"], v["cpu_ms_per_file"], server_ms)
        for k, v in json.loads(out.stdout).items()
    }


def spread(values: list[float]) -> str:
    """median [min-max]"""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


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


def gate_main(repeat: int) -> None:
    """`--gate`: bench/gate_modes.py at the usual latency and at none (CPU-bound)."""
    from bench import gate_modes

    for latency in (LATENCY, 0.0):
        with latency_server(latency) as server:
            os.environ["AWS_ENDPOINT_URL"] = server.endpoint

            def settings(**gate: Any) -> EngineSettings:
                return EngineSettings(
                    max_concurrency=64, staging_allowlist=[], s3_addressing_style="path", **gate
                )

            samples = gate_modes.run_modes(settings, BUCKET, repeat)
        gate_modes.print_table(
            f"Content gate: {gate_modes.FILES} one-file jobs x {gate_modes.SIZE // 1024} KiB "
            f"PDFs, {gate_modes.CLIENTS} in flight, {latency * 1000:.0f} ms per request; "
            f"median of {repeat} rounds",
            samples,
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.engine_bench")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each K, each side")
    parser.add_argument("--no-extras", action="store_true", help="skip the seed table, 1 GiB")
    parser.add_argument(
        "--gate", action="store_true", help="only the content gate: off, type check, clamd"
    )
    args = parser.parse_args()
    # The local moto endpoint only: never real credentials, never real AWS.
    os.environ.update(FAKE_AWS)
    if args.gate:
        gate_main(args.repeat)
        return
    with latency_server(LATENCY) as server:
        endpoint = server.endpoint
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        settings = EngineSettings(
            max_concurrency=64, staging_allowlist=[], s3_addressing_style="path"
        )
        engine = UploadEngine(settings)
        data = documents(N, SIZE)
        engine_time(engine, server, data[:64], 64, "warmup")

        floor = round_trip_floor(server)
        sequential = sequential_time(endpoint, data)
        service = AWSService(BUCKET, settings=settings)
        aws_service_run(service, server, data[:64], 64)  # warm-up, as the engine's
        load_before = os.getloadavg()[0]
        sides: dict[str, dict[int, list[Run]]] = {name: {k: [] for k in KS} for name in SIDES}
        for _ in range(args.repeat):
            for k in KS:
                sides["engine"][k].append(engine_run(engine, server, data, k, f"k{k}"))
                sides["AWSService"][k].append(aws_service_run(service, server, data, k))
            for name, module in (
                ("AWSService, unpatched", "aws_service_unpatched"),
                ("s3transfer", "s3transfer_peer"),
            ):
                for k, run in subprocess_runs(server, module).items():
                    sides[name][k].append(run)
        load_after = os.getloadavg()[0]

        print(f"\n{N} files x {SIZE // 1024} KiB, {LATENCY * 1000:.0f} ms per request; "
              f"plain sequential loop (default boto3 client, Expect: 2 round trips): "
              f"{sequential:.2f} s")  # fmt: skip
        print(f"One bare PUT through the server takes {floor * 1000:.1f} ms (L + server work "
              f"+ timer slack); load average {load_before:.2f} before, {load_after:.2f} after; "
              f"{args.repeat} runs each, median [min-max]; eff = ideal / measured")  # fmt: skip
        print(f"{'K':>3} {'ideal s':>7} | {'side':<22} {'seconds':>17} {'eff':>17} "
              f"{'cpu ms':>6} {'srv ms':>6}")  # fmt: skip
        for k in KS:
            ideal = math.ceil(N / k) * LATENCY
            for name in SIDES:
                runs = sides[name][k]
                secs = [r.seconds for r in runs]
                print(f"{k:>3} {ideal:>7.2f} | {name:<22} {spread(secs):>17} "
                      f"{spread([ideal / t for t in secs]):>17} "
                      f"{statistics.median(r.cpu_ms_per_file for r in runs):>6.2f} "
                      f"{statistics.median(r.server_ms_per_file for r in runs):>6.2f}")  # fmt: skip
        print(
            "cpu ms: client process CPU per file (one core at most); srv ms: server CPU "
            "per file. engine: UploadEngine.upload; AWSService: upload_files_concurrently in "
            "direct mode, here (patched) and in an unpatched process of its own; both send a "
            "lean signed PUT (upload_engine/fast_put.py: botocore's SigV4 signer and urllib3, "
            "no botocore request pipeline) after the first PUT per bucket went through "
            "botocore. s3transfer: botocore's full request pipeline for every PUT "
            "(s3transfer threads over make_s3_client, the engine's client config)."
        )
        fast = engine.fast_put
        if fast is not None:
            print(f"engine PUTs this run: {fast.sent_fast} lean, {fast.sent_botocore} botocore")
        else:
            print("engine PUTs this run: all botocore (UPLOAD_STREAM_S3_FAST_PUT=false)")

        if args.no_extras:
            engine.close()
            return
        print(f"\nSeed guide's table, measured: {SIZE // 1024} KiB files, one "
              f"{LATENCY * 1000:.0f} ms round trip each, the engine at 1 vs 4 workers")  # fmt: skip
        print(f"{'Files':>5} | {'Sequential':>10} | {'Concurrent (4)':>14} | Improvement")
        for count in SEED_COUNTS:
            one = engine_time(engine, server, data[:count], 1, f"seed{count}")
            four = engine_time(engine, server, data[:count], 4, f"seed{count}")
            print(f"{count:>5} | {one:>9.3f}s | {four:>13.3f}s | {(1 - four / one) * 100:>10.0f}%")
        engine.close()

        report = rss_probe(endpoint)
        print(f"\n1 GiB staged file, multipart ({report['part_bytes'] // 1024**2} MiB parts) to a "
              f"discarding endpoint: {report['seconds']} s, peak RSS {report['peak_rss_mib']} MiB "
              f"(RSS before the upload {report['rss_before_upload_kib'] // 1024} MiB); "
              f"uploaded={report['uploaded']} failures={report['failures']}")  # fmt: skip


if __name__ == "__main__":
    main()

"""The client CPU of one botocore call of each kind a server-side copy makes (the staged
object's HEAD, the type check's ranged GET, the CopyObject), on the engine's own client
(upload_engine/s3_client.py: timestamps parsed by `parse_timestamp`) and on the same client
with botocore's default timestamp parser (dateutil), side by side.

`python -m bench.s3_call_bench [--calls N] [--rounds R]`: against bench/latency_s3.py with
no latency, in this (patched) process; median over R rounds of N calls each, process CPU
time, the two clients taking turns within each round.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import base64  # noqa: E402
import hashlib  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import boto3  # noqa: E402

from bench.engine_bench import latency_server  # noqa: E402
from upload_engine.s3_client import install_hooks, open_s3_client  # noqa: E402
from upload_engine.settings import EngineSettings  # noqa: E402

BUCKET = "callcpu"
SIZE = 16 * 1024


def clients() -> dict[str, Any]:
    settings = EngineSettings(s3_addressing_style="path", staging_allowlist=[])
    engine, _ = open_s3_client(settings, max_pool_connections=10)
    # The same configuration on a session with botocore's own parser defaults.
    default = boto3.session.Session().client("s3", config=engine.meta.config)
    install_hooks(default)
    return {"engine's client": engine, "botocore's timestamp parser": default}


def calls(client: Any, etag: str) -> dict[str, Callable[[], object]]:
    def ranged_get() -> None:
        body = client.get_object(Bucket=BUCKET, Key="k", Range="bytes=0-8191", IfMatch=etag)
        body["Body"].read()
        body["Body"].close()

    return {
        "HeadObject": lambda: client.head_object(Bucket=BUCKET, Key="k", ChecksumMode="ENABLED"),
        "GetObject (range)": ranged_get,
        "CopyObject": lambda: client.copy_object(
            Bucket=BUCKET, Key="copy", CopySource={"Bucket": BUCKET, "Key": "k"},
            CopySourceIfMatch=etag, MetadataDirective="REPLACE", ChecksumAlgorithm="SHA256",
        ),
    }  # fmt: skip


def cpu_ms(fn: Callable[[], object], n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - started) * 1000 / n


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.s3_call_bench")
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    with latency_server(0.0) as server:
        os.environ["AWS_ENDPOINT_URL"] = server.endpoint
        made = clients()
        first = next(iter(made.values()))
        first.create_bucket(Bucket=BUCKET)
        data = os.urandom(SIZE)
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        put = first.put_object(
            Bucket=BUCKET, Key="k", Body=data, ChecksumAlgorithm="SHA256", ChecksumSHA256=digest
        )
        per_client = {name: calls(client, put["ETag"]) for name, client in made.items()}
        samples: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for name, ops in per_client.items():
                for op, fn in ops.items():
                    cpu_ms(fn, 20)  # warm: connections, caches
                    samples.setdefault((op, name), []).append(cpu_ms(fn, args.calls))
        print(f"client CPU ms per call, median of {args.rounds} rounds x {args.calls} calls")
        names = list(made)
        print(f"  {'call':<20}" + "".join(f"{n:>30}" for n in names) + f"{'saved':>10}")
        for op in next(iter(per_client.values())):
            row = [statistics.median(samples[(op, n)]) for n in names]
            saved = (1 - row[0] / row[1]) * 100
            print(f"  {op:<20}" + "".join(f"{v:>30.3f}" for v in row) + f"{saved:>9.1f}%")
        for client in made.values():
            client.close()


if __name__ == "__main__":
    main()

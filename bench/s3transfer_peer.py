"""The thread-based peer: boto3's own transfer manager (s3transfer, use_threads=True).

Runs UNPATCHED in its own process: s3transfer's threads hang under gevent's patch_all
(boto3 issue 3141). `python -m bench.s3transfer_peer --endpoint URL --bucket B --ks 1,4`
prints one JSON object {K: {"seconds": s, "cpu_ms_per_file": ms}} on stdout.

Its client is built exactly like the engine's (`make_s3_client`: pool of at least K
connections, no `Expect: 100-continue`, no default CRC32, same payload signing), so both
pay one round trip per small file. Every PUT of the peer goes through botocore's full
request pipeline; the engine's small PUTs after the first per bucket do not (its lean
signed PUT, upload_engine/fast_put.py). With boto3's defaults the peer would pay two
round trips per file (Expect) and lose for that reason alone.
"""

from __future__ import annotations

import argparse
import io
import json
import time

from boto3.s3.transfer import TransferConfig, create_transfer_manager

from bench.payloads import documents
from upload_engine.s3_client import make_s3_client
from upload_engine.settings import EngineSettings


def run(endpoint: str, bucket: str, payloads: list[bytes], k: int) -> dict[str, float]:
    settings = EngineSettings(s3_addressing_style="path", max_concurrency=k)
    client = make_s3_client(settings, max_pool_connections=k)
    assert client.meta.endpoint_url == endpoint
    manager = create_transfer_manager(client, TransferConfig(max_concurrency=k, use_threads=True))
    try:
        manager.upload(io.BytesIO(b"warm-up"), bucket, "peer/warm-up").result()
        cpu = time.process_time()
        started = time.perf_counter()
        futures = [
            manager.upload(io.BytesIO(data), bucket, f"peer/{i}") for i, data in enumerate(payloads)
        ]
        for future in futures:
            future.result()
        seconds = time.perf_counter() - started
        cpu_ms = (time.process_time() - cpu) / len(payloads) * 1000
        return {"seconds": seconds, "cpu_ms_per_file": cpu_ms}
    finally:
        manager.shutdown()
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--ks", required=True)
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--size", type=int, default=64 * 1024)
    args = parser.parse_args()
    payloads = documents(args.n, args.size)
    results = {
        k: run(args.endpoint, args.bucket, payloads, k) for k in map(int, args.ks.split(","))
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()

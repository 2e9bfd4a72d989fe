"""The thread-based peer: boto3's own transfer manager (s3transfer, use_threads=True).

Runs UNPATCHED in its own process: s3transfer's threads hang under gevent's patch_all
(boto3 issue 3141). `python -m bench.s3transfer_peer --endpoint URL --bucket B --ks 1,4`
prints one JSON object {K: seconds} on stdout.
"""

from __future__ import annotations

import argparse
import io
import json
import time

import boto3
from boto3.s3.transfer import TransferConfig, create_transfer_manager
from botocore.config import Config


def run(endpoint: str, bucket: str, payloads: list[bytes], k: int) -> float:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(max_pool_connections=max(10, k), s3={"addressing_style": "path"}),
    )
    manager = create_transfer_manager(client, TransferConfig(max_concurrency=k, use_threads=True))
    try:
        manager.upload(io.BytesIO(b"warm-up"), bucket, "peer/warm-up").result()
        started = time.perf_counter()
        futures = [
            manager.upload(io.BytesIO(data), bucket, f"peer/{i}") for i, data in enumerate(payloads)
        ]
        for future in futures:
            future.result()
        return time.perf_counter() - started
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
    payloads = [i.to_bytes(4, "big") * (args.size // 4) for i in range(args.n)]
    results = {
        k: run(args.endpoint, args.bucket, payloads, k) for k in map(int, args.ks.split(","))
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()

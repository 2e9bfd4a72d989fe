"""`AWSService.upload_files_concurrently` in a process gevent has NOT patched (as Django's
test runner, its dev server or a gunicorn sync worker): the engine's greenlets hand each
file to an OS thread. `python -m bench.aws_service_unpatched --endpoint URL --bucket B
--ks 1,4` prints one JSON object {K: {"seconds": s, "cpu_ms_per_file": ms}} on stdout.
Run by bench/engine_bench.py beside the engine and the s3transfer peer.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from gevent import monkey

from bench.payloads import documents, named
from producer_lib import AWSService
from upload_engine.settings import EngineSettings


def run(service: AWSService, bucket: str, payloads: list[bytes], k: int) -> dict[str, float]:
    files = named(payloads)
    cpu = time.process_time()
    started = time.perf_counter()
    urls = service.upload_files_concurrently(
        user_id=1, files=files, file_category=f"unpatched-k{k}", bucket_name=bucket, max_workers=k
    )
    seconds = time.perf_counter() - started
    if len(urls) != len(payloads):
        raise RuntimeError(f"AWSService uploaded {len(urls)} of {len(payloads)} files")
    return {"seconds": seconds, "cpu_ms_per_file": (time.process_time() - cpu) / len(files) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.aws_service_unpatched")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--ks", required=True)
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--size", type=int, default=64 * 1024)
    args = parser.parse_args()
    if monkey.is_module_patched("socket"):
        raise SystemExit("this benchmark must run in a process gevent has not patched")
    os.environ["AWS_ENDPOINT_URL"] = args.endpoint
    settings = EngineSettings(max_concurrency=64, staging_allowlist=[], s3_addressing_style="path")
    service = AWSService(args.bucket, settings=settings)
    payloads = documents(args.n, args.size)
    run(service, args.bucket, payloads[:64], 64)  # warm-up: connections, the lean PUT learned
    results = {k: run(service, args.bucket, payloads, k) for k in map(int, args.ks.split(","))}
    print(json.dumps(results))


if __name__ == "__main__":
    main()

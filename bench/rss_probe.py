"""One large file through the engine, to be measured from outside (ru_maxrss via wait4).

`python -m bench.rss_probe --endpoint URL --size BYTES` stages a sparse file of that size
(no disk used; reads return zeros, which hash like any other bytes), uploads it with the
engine's default multipart settings to the benchmark server's discarding `sink` bucket,
and prints a JSON line with its outcome, its own RSS before the upload, and the time.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from schemas import BlobRef  # noqa: E402
from upload_engine import UploadEngine, UploadJob  # noqa: E402
from upload_engine.settings import EngineSettings  # noqa: E402


def sha256_of_zeros(size: int) -> str:
    digest = hashlib.sha256()
    block = b"\0" * (1024 * 1024)
    remaining = size
    while remaining:
        step = min(remaining, len(block))
        digest.update(block[:step])
        remaining -= step
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--size", type=int, default=1024**3)
    args = parser.parse_args()
    os.environ["AWS_ENDPOINT_URL"] = args.endpoint
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / "big.mp4"
        with path.open("wb") as sparse:
            sparse.truncate(args.size)
        ref = BlobRef(
            uri=f"file://{path}",
            size=args.size,
            sha256=sha256_of_zeros(args.size),
            content_type="video/mp4",
        )
        settings = EngineSettings(staging_allowlist=[f"file://{root}/"], s3_addressing_style="path")
        engine = UploadEngine(settings)
        before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        outcome = engine.upload(
            UploadJob(
                request_id="rss", user_id="1", file_category="bench", bucket="sink",
                files={"video": ref}, max_workers=1,
            )
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        engine.close()
    print(
        json.dumps(
            {
                "uploaded": list(outcome.objects),
                "failures": {k: v.code.value for k, v in outcome.failures.items()},
                "rss_before_upload_kib": before_kib,
                "seconds": round(elapsed, 2),
                "part_bytes": settings.multipart_part_bytes,
            }
        )
    )


if __name__ == "__main__":
    main()

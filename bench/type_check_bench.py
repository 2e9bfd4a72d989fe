"""The type check's CPU per call (`TypeChecker.detect`, libmagic on a file's head), by kind
of bytes: what upload_engine/content_type.py says it costs comes from here.

libmagic stops at the first rule that matches, so a known image or PDF is cheap; bytes of
no known type walk the whole database, and text runs its text rules (regular expressions
over the head) too. The kinds: a JPEG head, the demo's PNG and PDF
(upload_stream_cli/demo_samples.py), the engine benchmark's payload (a 4-byte pattern),
the end-to-end benchmark's payload (ASCII text declared as a PDF), random bytes and
English-like text.

`python -m bench.type_check_bench [--rounds R]`: median over R rounds of 200 calls each,
process CPU time (so other work on the machine weighs less than on wall time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from upload_engine.content_type import HEAD_BYTES, TypeChecker
from upload_stream_cli.demo_samples import pdf, png

CALLS = 200


def pattern(size: int) -> bytes:
    """The engine benchmark's payload (bench/engine_bench.py `payloads`)."""
    return (7).to_bytes(4, "big") * (size // 4)


def e2e_text(size: int) -> bytes:
    """The end-to-end benchmark's payload (bench/e2e_bench.py `payload`)."""
    seed = b"123:2:"
    return (seed * (size // len(seed) + 1))[:size]


def kinds() -> dict[str, bytes]:
    return {
        # A JFIF header and an empty scan: a JPEG's head as libmagic reads it.
        "JPEG head": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + bytes(64 * 1024),
        "PNG (demo sample)": png(64, 64, (200, 200, 200)),
        "PDF (demo sample)": pdf("SPECIMEN", ["bench"]),
        "4-byte pattern, 64 KiB (engine bench)": pattern(64 * 1024),
        "ASCII text, 1 KiB (e2e bench)": e2e_text(1024),
        "ASCII text, 64 KiB (e2e bench)": e2e_text(64 * 1024),
        "random bytes, 64 KiB": os.urandom(64 * 1024),
        "English-like text, 64 KiB": (b"the quick brown fox jumps over the lazy dog\n" * 1500)[
            : 64 * 1024
        ],
    }


def per_call_ms(checker: TypeChecker, data: bytes) -> float:
    head = data[:HEAD_BYTES]  # as the gate hands it over
    checker.detect(head)
    started = time.process_time()
    for _ in range(CALLS):
        checker.detect(head)
    return (time.process_time() - started) / CALLS * 1000


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.type_check_bench")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    checker = TypeChecker()
    samples = kinds()
    times: dict[str, list[float]] = {name: [] for name in samples}
    for _ in range(args.rounds):
        for name, data in samples.items():
            times[name].append(per_call_ms(checker, data))
    print(
        f"\nType check (libmagic on the first {HEAD_BYTES // 1024} KiB): CPU ms per call, "
        f"median of {args.rounds} rounds x {CALLS}; load average {os.getloadavg()[0]:.2f}"
    )
    print(f"{'bytes':<40} | {'detected':<28} | {'ms':>6}")
    for name, data in samples.items():
        detected = checker.detect(data[:HEAD_BYTES])
        print(f"{name:<40} | {detected:<28} | {statistics.median(times[name]):>6.3f}")


if __name__ == "__main__":
    main()

"""Runs every benchmark module `bench/<name>_bench.py`, each as `python -m bench.<name>_bench`
in its own process (each decides for itself whether to monkey-patch). Exit status: the
number of benchmarks that failed. `python -m bench NAME...` runs only those."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    names = sorted(path.stem for path in here.glob("*_bench.py"))
    if argv:
        names = [name for name in names if name in argv or name.removesuffix("_bench") in argv]
    failed = 0
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        status = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=here.parent)
        if status:
            print(f"bench.{name} exited with {status}", flush=True)
            failed += 1
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

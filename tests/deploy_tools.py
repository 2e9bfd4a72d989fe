"""The tools the deploy/ tests run: helm (built from the Go module proxy by .ci/run and
cached) and Debian's promtool and prometheus. A missing tool skips on a laptop and fails
under CI, like a missing service (`tests.conftest.unavailable`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "upload-stream"
PRODUCTION = CHART / "examples" / "production.yaml"
RULES = ROOT / "deploy" / "prometheus" / "upload-stream.rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "tests" / "upload-stream.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "upload-stream.json"
HELM_VERSION = "v3.22.0"


def _cache() -> Path:
    return Path(os.environ.get("UPLOAD_STREAM_CACHE_DIR", Path.home() / ".cache" / "upload-stream"))


def tool(name: str) -> str:
    """The path of `name`: $HELM for helm, then PATH, then (helm) the cached build."""
    candidates = [os.environ.get(name.upper(), ""), shutil.which(name) or ""]
    if name == "helm":
        candidates += [
            str(_cache() / "bin" / f"helm-{HELM_VERSION}"),
            str(Path.home() / "go" / "bin" / "helm"),
        ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    hint = "`.ci/run` builds it" if name == "helm" else "Debian package `prometheus`"
    unavailable(f"{name} is not installed ({hint})")


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)

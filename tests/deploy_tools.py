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
    """The path of `name`: $HELM, $PROMTOOL or $PROMETHEUS, then PATH, then (helm) the
    cached build of .ci/deploy-tools."""
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


def rule_expressions() -> dict[str, str]:
    """Every PromQL expression of the rule file, by rule name."""
    import yaml

    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {f"rule {r.get('record') or r['alert']}": r["expr"] for g in groups for r in g["rules"]}


def dashboard_expressions() -> dict[str, str]:
    """Every panel query of the Grafana dashboard, by panel title and refId."""
    import json

    panels = json.loads(DASHBOARD.read_text())["panels"]
    return {f"panel {p['title']!r} {t['refId']}": t["expr"] for p in panels for t in p["targets"]}


def metric_names(expressions: dict[str, str]) -> set[str]:
    """The raw metric names (not recording rules, which contain ':') the expressions use."""
    import re

    found: set[str] = set()
    for expr in expressions.values():
        found |= set(re.findall(r"(?<![\w:])(upload_stream_[a-z_]+)", expr))
    return found

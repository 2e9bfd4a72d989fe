"""deploy/prometheus: `promtool check rules` and `promtool test rules` (their output is
printed into the test log), and every alert links a section of docs/runbook.md."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy_tools import (
    DASHBOARD,
    ROOT,
    RULE_TESTS,
    RULES,
    dashboard_expressions,
    metric_names,
    rule_expressions,
    run,
    tool,
)


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _promtool(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    done = run(tool("promtool"), *args, timeout=120)
    output = (done.stdout + done.stderr).strip()
    with capsys.disabled():
        print(f"\n$ promtool {' '.join(args)}\n{output}")
    assert done.returncode == 0, output
    return output


def test_promtool_check_rules(capsys: pytest.CaptureFixture[str]) -> None:
    output = _promtool(capsys, "check", "rules", str(RULES.relative_to(ROOT)))
    assert "SUCCESS" in output


def test_promtool_test_rules(capsys: pytest.CaptureFixture[str]) -> None:
    output = _promtool(capsys, "test", "rules", str(RULE_TESTS.relative_to(ROOT)))
    assert "SUCCESS" in output
    assert "FAILED" not in output


def test_every_alert_has_a_unit_test() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert fired == {alert["alert"] for alert in _alerts()}


def test_the_failure_modes_of_the_issue_have_alerts() -> None:
    assert {alert["alert"] for alert in _alerts()} == {
        "UploadStreamConsumerLagGrowing",
        "UploadStreamDeadLettersGrowing",
        "UploadStreamThrottled",
        "UploadStreamDestinationDenied",
        "UploadStreamTransactionsAborting",
        "UploadStreamProducersReplaced",
        "UploadStreamNoConsumerReady",
        "UploadStreamUploadsSlow",
    }


def _github_anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_links_a_runbook_section() -> None:
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    anchors = {_github_anchor(h) for h in re.findall(r"^#+ (.+)$", runbook, re.MULTILINE)}
    for alert in _alerts():
        url = alert["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path == "docs/runbook.md", alert["alert"]
        assert anchor in anchors, f"{alert['alert']}: no runbook section #{anchor}"
        assert alert["labels"]["severity"] in {"warning", "critical"}


def _exported_names() -> set[str]:
    """The sample names the consumer's registry exports, by metric type."""
    from consumer.metrics import Metrics

    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "gauge": ("",),
    }
    return {
        family.name + suffix
        for family in Metrics().registry.collect()
        for suffix in suffixes[family.type]
    }


def _recorded() -> set[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}


def test_rules_and_dashboard_use_only_exported_metrics_and_recorded_series() -> None:
    expressions = rule_expressions() | dashboard_expressions()
    assert metric_names(expressions) <= _exported_names()
    for name, expr in expressions.items():
        for record in re.findall(r"upload_stream:[a-z0-9_:]+", expr):
            assert record in _recorded(), f"{name}: {record} is not recorded"


def test_dashboard_covers_the_issues_panels() -> None:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    used = " ".join(t["expr"] for p in panels for t in p["targets"])
    for series in (
        "upload_stream:requests:rate5m",  # throughput by status
        "upload_stream:file_failures:rate5m",  # failures by code
        "upload_stream:request_seconds:quantile5m",  # latency percentiles
        "upload_stream:consumer_lag:sum",
        "upload_stream:in_flight_requests:sum",
        "upload_stream:paused_partitions:sum",
        "upload_stream:transactions:rate5m",
        "upload_stream:dead_letters:rate5m",
    ):
        assert series in used, series
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))


def test_dashboard_queries_are_valid_promql(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # promtool parses rule files only: each panel query becomes a recording rule.
    rules = [
        {"record": f"dashboard:query_{i}", "expr": expr}
        for i, expr in enumerate(dashboard_expressions().values())
    ]
    path = tmp_path / "dashboard-queries.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    output = _promtool(capsys, "check", "rules", str(path))
    assert f"SUCCESS: {len(rules)} rules found" in output

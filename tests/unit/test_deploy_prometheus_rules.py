"""deploy/prometheus: `promtool check rules` and `promtool test rules` (their output is
printed into the test log), and every alert links a section of docs/runbook.md."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy_tools import RULE_TESTS, RULES, ROOT, run, tool


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

"""The real scrape: Debian's Prometheus server, on loopback, scrapes a running consumer while
requests flow and some fail, evaluates deploy/prometheus/upload-stream.rules.yml as it is,
and answers through its HTTP API. It shows that the metric names and labels the rules and
the Grafana dashboard use are the ones the consumer exports."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy_tools import (
    RULES,
    dashboard_expressions,
    metric_names,
    rule_expressions,
    tool,
)
from tests.integration.consumer_helpers import (
    ConsumerRig,
    RigFactory,
    encode,
    request,
    stage,
    wait_for,
)
from upload_stream_cli.devstack.ports import free_port, port_open

GOOD, BAD_CHECKSUM, UNDECODABLE = 3, 2, 1  # per wave


class Prometheus:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/api/v1"

    def get(self, path: str, **params: str) -> dict[str, Any]:
        url = f"{self.base}/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as exc:  # a bad query: 400 with the error as JSON
            body = json.loads(exc.read())
        return body

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = self.get("query", query=expr)
        assert body["status"] == "success", f"{expr}: {body.get('error')}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def values(self, expr: str, label: str) -> dict[str, float]:
        return {s["metric"].get(label, ""): float(s["value"][1]) for s in self.query(expr)}

    def firing(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self.get("alerts")["data"]["alerts"]
        return [a for a in alerts if a["state"] == "firing"]


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[Prometheus, Path, int]]:
    """A Prometheus server on loopback with the production rule file; the test writes
    the scrape target (file-based discovery) once its consumer has a port."""
    binary = tool("prometheus")
    port = free_port()
    targets = tmp_path / "targets.json"
    targets.write_text("[]")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(RULES)],
                "scrape_configs": [
                    {
                        "job_name": "upload-stream",
                        "file_sd_configs": [{"files": [str(targets)], "refresh_interval": "1s"}],
                    }
                ],
            }
        )
    )
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: port_open(port) or proc.poll() is not None, 30, "prometheus to listen")
        assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
        yield Prometheus(port), targets, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def _publish_wave(rig: ConsumerRig, wave: int) -> None:
    records: list[tuple[bytes | None, bytes | None, Any]] = []
    for i in range(GOOD):
        blob = stage(rig.staging, f"document {wave}.{i}".encode())
        body = request(f"good-{wave}-{i}", str(i), {"doc": blob})
        records.append((f"g{wave}.{i}".encode(), encode(body), None))
    for i in range(BAD_CHECKSUM):
        blob = stage(rig.staging, f"tampered {wave}.{i}".encode()) | {"sha256": "0" * 64}
        body = request(f"bad-{wave}-{i}", str(i), {"doc": blob})
        records.append((f"b{wave}.{i}".encode(), encode(body), None))
    records += [(f"u{wave}.{i}".encode(), b"not json {", None) for i in range(UNDECODABLE)]
    rig.publish(records)


def _live_metric_names(port: int) -> set[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        line.split("{")[0].split(" ")[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_prometheus_scrapes_the_consumer_and_evaluates_the_rules(
    consumer_rig: RigFactory,
    prometheus: tuple[Prometheus, Path, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, targets, server_port = prometheus
    rig = consumer_rig()
    metrics_port = free_port()
    consumer = rig.start(
        rig.env(UPLOAD_STREAM_METRICS_PORT=str(metrics_port), UPLOAD_STREAM_STATS_INTERVAL_MS="500")
    )
    targets.write_text(json.dumps([{"targets": [f"127.0.0.1:{metrics_port}"]}]))
    reader = rig.reader("results", "dlq")

    consumer.wait_assigned(30)
    wait_for(
        lambda: server.values('up{job="upload-stream"}', "job") == {"upload-stream": 1.0},
        30,
        "Prometheus to scrape the consumer",
    )
    # Two waves: a labelled counter is born at its first increment, so a rate needs a
    # second one after Prometheus has seen the series.
    per_wave = GOOD + BAD_CHECKSUM + UNDECODABLE
    _publish_wave(rig, 1)
    reader.wait(lambda rs: len(rs) == per_wave, 60, "the first wave's results")
    wait_for(
        lambda: len(server.query("upload_stream_requests_total")) == 2,
        30,
        "Prometheus to see both request series",
    )
    _publish_wave(rig, 2)
    reader.wait(lambda rs: len(rs) == 2 * per_wave, 60, "the second wave's results")

    # Recording rules, over what was scraped: the labels the rules group by are real.
    wait_for(
        lambda: (
            set(server.values("upload_stream:requests:rate5m > 0", "status"))
            == {"succeeded", "failed"}
        ),
        30,
        "requests by status",
    )
    failures = server.values("upload_stream:file_failures:rate5m > 0", "code")
    assert set(failures) == {"checksum_mismatch"}
    assert set(server.values("upload_stream:files:rate5m > 0", "status")) == {
        "uploaded",
        "failed",
    }
    ratio = server.values("upload_stream:file_failure_ratio:rate5m", "code")
    assert 0 < ratio["checksum_mismatch"] < 1
    assert server.values("upload_stream:transactions:rate5m > 0", "outcome").keys() >= {"committed"}
    wait_for(
        lambda: (
            server.values("upload_stream:dead_letters:increase15m", "code")
            == {"invalid_json": float(2 * UNDECODABLE)}
        ),
        30,
        "dead letters by code",
    )
    assert server.values("upload_stream:assigned_partitions:sum", "") == {"": 3.0}
    wait_for(
        lambda: (
            set(server.values("upload_stream:consumer_lag:sum", "topic"))
            == {rig.topics["requests"]}
        ),
        30,
        "consumer lag by topic",
    )
    latency = server.values("upload_stream:request_seconds:quantile5m", "quantile")
    assert set(latency) == {"0.5", "0.95", "0.99"}

    # One firing alert, from the production rule file as it is (its annotations are
    # rendered again at each evaluation: wait for the one that counts both waves).
    summary = f"{2 * UNDECODABLE} requests dead-lettered with invalid_json in 15 minutes"

    def dlq_alerts() -> list[dict[str, Any]]:
        return [
            a
            for a in server.firing()
            if a["labels"]["alertname"] == "UploadStreamDeadLettersGrowing"
        ]

    wait_for(
        lambda: [a["annotations"]["summary"] for a in dlq_alerts()] == [summary],
        30,
        "UploadStreamDeadLettersGrowing to fire",
    )
    [alert] = dlq_alerts()
    assert alert["labels"] == {
        "alertname": "UploadStreamDeadLettersGrowing",
        "code": "invalid_json",
        "severity": "warning",
    }
    assert alert["annotations"]["runbook_url"] == "docs/runbook.md#the-dlq-grows"
    assert {a["labels"]["alertname"] for a in server.firing()} == {"UploadStreamDeadLettersGrowing"}

    # Every query of the rules and the dashboard is valid PromQL against this server.
    dashboard = dashboard_expressions()
    answered = {name: server.query(expr) for name, expr in dashboard.items()}
    empty = sorted(name for name, result in answered.items() if not result)

    # Every raw metric name they use is in the live /metrics.
    rules = rule_expressions()
    used = metric_names(rules) | metric_names(dashboard)
    live = _live_metric_names(metrics_port)
    with capsys.disabled():
        print(f"\nPrometheus on 127.0.0.1:{server_port} scraped the consumer on :{metrics_port}")
        print(f"metric names used by the rules and the dashboard ({len(used)}), in /metrics:")
        for name in sorted(used):
            print(f"  {'found  ' if name in live else 'MISSING'} {name}")
        print(f"dashboard queries answered: {len(answered)} ({len(empty)} empty: {empty})")
        for record in (
            "upload_stream:requests:rate5m",
            "upload_stream:file_failures:rate5m",
            "upload_stream:dead_letters:increase15m",
        ):
            print(f"  {record} = {[(r['metric'], r['value'][1]) for r in server.query(record)]}")
        print(f"  firing: {[a['labels'] for a in server.firing()]}")
    assert used <= live, sorted(used - live)
    assert len(used) >= 10
    assert consumer.stop() == 0

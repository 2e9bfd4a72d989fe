"""Secrets and data: nothing sensitive leaves the consumer through its logs or /metrics.

Uploaded files carry a distinctive byte marker, AWS_SECRET_ACCESS_KEY and
KAFKA_SASL_PASSWORD are set to markers of their own (SASL only reaches librdkafka: the
broker is PLAINTEXT, so KAFKA_SECURITY_PROTOCOL stays unset and the consumer must still
work). Logs are captured at DEBUG, JSON; failures (checksum and size lies, a broken event
quoting the marker) are included so error paths are covered too. Settings print masked.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

from consumer.settings import ConsumerSettings
from kafka_config.connection import KafkaConnection
from tests.integration.consumer_helpers import RigFactory, encode, request, wait_for
from tests.reliability.harness import REPO, TimedReader, free_port, stage_bytes
from tests.reliability.report import SCOREBOARD, Row
from upload_engine.settings import EngineSettings

CONTENT = f"FILE-CONTENT-MARKER-{uuid.uuid4().hex}"
AWS_SECRET = f"AWS-SECRET-MARKER-{uuid.uuid4().hex}"
SASL_SECRET = f"SASL-PASSWORD-MARKER-{uuid.uuid4().hex}"
MARKERS = (CONTENT, AWS_SECRET, SASL_SECRET)


def _get(port: int, path: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode()
    finally:
        conn.close()


@pytest.mark.timeout(120)
def test_logs_and_metrics_never_carry_contents_or_credentials(consumer_rig: RigFactory) -> None:
    rig = consumer_rig()
    topics, staging = rig.topics, rig.staging
    port = free_port()
    env = rig.env(
        UPLOAD_STREAM_METRICS_PORT=str(port),
        UPLOAD_STREAM_LOG_LEVEL="DEBUG",
        AWS_SECRET_ACCESS_KEY=AWS_SECRET,  # wins over the stack's fake one
        KAFKA_SASL_USERNAME="someone",
        KAFKA_SASL_PASSWORD=SASL_SECRET,
    )
    row = SCOREBOARD.add(Row("secrets in logs/metrics", faults="markers in data + creds"))
    records = []
    for i in range(20):
        data = f"{CONTENT} document {i} {CONTENT}".encode() * 8
        good = stage_bytes(staging, f"s{i}.pdf", data)
        files: dict[str, Any] = {"passport": good.ref}
        if i % 4 == 1:
            files["selfie"] = {**good.ref, "sha256": hashlib.sha256(b"other").hexdigest()}
        if i % 4 == 2:
            files["selfie"] = {**good.ref, "size": good.size - 3}
        records.append((b"u", encode(request(f"sec-{i}", "u", files)), None))
    records.append((b"u", f'{{"request_id": "{CONTENT}", broken'.encode(), None))
    records.append((b"u", encode(request("sec-bad", "u", {"p": {"uri": CONTENT}})), None))
    consumer = rig.start(env, "secrets")
    reader = rig.reader("results", "dlq", cls=TimedReader)
    rig.publish(records)
    reader.wait(lambda _: reader.distinct(topics["results"]) >= 21, 60, "results")
    wait_for(lambda: "upload_stream_files_total" in _get(port, "/metrics"), 10, "metrics")
    metrics = _get(port, "/metrics") + _get(port, "/healthz") + _get(port, "/readyz")
    assert consumer.stop() == 0
    log = consumer.log_path.read_text(errors="replace")
    results = {r.json()["request_id"]: r.json() for r in reader.of(topics["results"])}
    row.sent, row.committed = len(records), len(results)
    leaks = [m[:20] for m in MARKERS if m in log or m in metrics]
    row.notes = (
        f"{len(log.splitlines())} log lines (DEBUG) + /metrics scanned for 3 "
        f"markers: {len(leaks)} found"
    )
    assert leaks == []
    assert sum(r["status"] == "succeeded" for r in results.values()) == 10
    assert sum(r["status"] == "partial" for r in results.values()) == 10


def test_settings_and_help_print_secrets_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", SASL_SECRET)
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "someone")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    shown = []
    for cls in (KafkaConnection, EngineSettings, ConsumerSettings):
        settings = cls()
        shown += [repr(settings), str(settings), settings.model_dump_json(), f"{settings}"]
    connection = KafkaConnection()
    assert connection.librdkafka()["sasl.password"] == SASL_SECRET  # still reaches librdkafka
    help_text = subprocess.run(
        [sys.executable, "-m", "upload_stream_cli.entry", "consume", "--help"],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        env={**os.environ, "KAFKA_SASL_PASSWORD": SASL_SECRET, "AWS_SECRET_ACCESS_KEY": AWS_SECRET},
    )
    shown.append(help_text.stdout + help_text.stderr)
    leaks = [text[:60] for text in shown if SASL_SECRET in text or AWS_SECRET in text]
    SCOREBOARD.add(
        Row(
            "secrets in settings/--help",
            faults="-",
            notes=f"{len(shown)} renderings (repr/str/json/--help), {len(leaks)} unmasked",
        )
    )
    assert leaks == []
    assert "**********" in repr(connection)

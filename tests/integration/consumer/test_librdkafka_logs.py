"""librdkafka's own log lines come out in the consumer's log format, not raw on stderr."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_broker_errors_are_json_log_lines(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{_closed_port()}",
        "UPLOAD_STREAM_DEFAULT_BUCKET": "upload-stream-documents",
        "UPLOAD_STREAM_STAGING_ALLOWLIST": f"file://{tmp_path}/",
        "UPLOAD_STREAM_PROCESSING_GUARANTEE": "at_least_once",
        "UPLOAD_STREAM_METRICS_PORT": "0",
        "UPLOAD_STREAM_LOG_FORMAT": "json",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "upload_stream_cli.entry", "consume"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        lines: list[bytes] = []
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if b"consumer.librdkafka" in line:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    lines += out.splitlines(keepends=True)
    records = [json.loads(line) for line in lines if line.strip()]  # every line is JSON
    assert any(r["logger"] == "consumer.librdkafka" for r in records)
    assert not any(line.startswith(b"%") for line in lines)  # librdkafka's raw format

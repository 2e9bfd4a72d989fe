"""librdkafka's own log lines come out in the consumer's log format, not raw on stderr,
and promptly: also while the loop greenlet waits on librdkafka after start-up."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import gevent
import pytest
from gevent.event import Event

from tests.integration.consumer_helpers import RigFactory, encode, request, stage
from upload_engine import UploadEngine, UploadJob, UploadOutcome
from upload_stream_cli.devstack.kafka import KafkaBroker


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


class _Served(logging.Handler):
    """When each librdkafka line reached logging (served from its queue), not when made."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.at: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.at.append(time.monotonic())


class _GatedEngine:
    """The real engine, holding each upload until `release` is set."""

    def __init__(self, inner: UploadEngine) -> None:
        self.inner = inner
        self.entered = Event()
        self.release = Event()

    def upload(self, job: UploadJob) -> UploadOutcome:
        self.entered.set()
        self.release.wait()
        return self.inner.upload(job)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.timeout(150)
def test_producer_lines_are_served_while_a_transaction_waits_for_the_broker(
    consumer_rig: RigFactory, local_broker: KafkaBroker
) -> None:
    """After start-up: the broker goes away just as a checkpoint begins, so the loop
    greenlet sits in transactional calls and their retries; the producer's lines about the
    lost broker must come out meanwhile, not once the loop is back."""
    rig = consumer_rig(partitions=1)
    env = rig.env(
        UPLOAD_STREAM_PROCESSING_GUARANTEE="exactly_once",
        UPLOAD_STREAM_TXN_RETRY_TIMEOUT_S="20",
        KAFKA_DEBUG="broker",  # a steady flow of lines while reconnecting
    )
    gates: list[_GatedEngine] = []

    def gated(engine: UploadEngine) -> _GatedEngine:
        gates.append(_GatedEngine(engine))
        return gates[0]

    served = _Served()
    librdkafka = logging.getLogger("consumer.librdkafka")
    saved_level = librdkafka.level
    librdkafka.setLevel(logging.DEBUG)
    librdkafka.addHandler(served)
    try:
        consumer = rig.start_in_process(env, wrap=gated)
        rig.publish(
            [(b"u", encode(request("logs-1", "u", {"doc": stage(rig.staging, b"x")})), None)]
        )
        assert gates[0].entered.wait(30), "the upload did not start"
        local_broker.stop()
        gates[0].release.set()  # the checkpoint starts its transaction now
        began = time.monotonic()
        gevent.sleep(12)
        window = [t for t in served.at if began + 3 <= t <= began + 12]
        local_broker.start()
        consumer.stop(timeout=90)
    finally:
        librdkafka.removeHandler(served)
        librdkafka.setLevel(saved_level)
    # Served at least every 2 s of the window (KAFKA_DEBUG=broker logs each reconnect).
    assert window, "no librdkafka line was served while the transaction waited"
    gaps = [b - a for a, b in zip([began + 3, *window], [*window, began + 12], strict=True)]
    assert max(gaps) < 2.5, gaps

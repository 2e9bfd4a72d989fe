"""A client that is not ours: kcat (Debian's, librdkafka 2.0.2) produces a request typed by
hand and reads the result with isolation.level=read_committed: exactly one.

kcat turns every `KAFKA_*` environment variable into its configuration, so it runs with a
clean environment. (Against the secured broker it cannot log in: librdkafka before 2.6.1
fails SCRAM against Kafka 4.x, see the README's Kafka security section.)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time

from tests.conftest import unavailable
from tests.integration.consumer_helpers import RigFactory, stage


def _kcat(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    kcat = shutil.which("kcat")
    if kcat is None:
        unavailable("kcat is not installed (Debian package kcat; .ci/run installs it)")
    return subprocess.run(
        [kcat, *args], input=stdin, env={}, capture_output=True, text=True, timeout=30, check=False
    )


def test_kcat_request_gets_exactly_one_committed_result(consumer_rig: RigFactory) -> None:
    rig = consumer_rig()
    passport = stage(rig.staging, b"%PDF-1.7 typed by hand", "p.pdf")
    request = (
        '{"schema_version": 1, "request_id": "kcat-req-1", "user_id": "u42", '
        '"file_category": "kyc_documents", "created_at": "2026-12-01T10:00:00Z", '
        f'"files": {{"passport": {json.dumps(passport)}}}}}'
    )
    consumer = rig.start()
    consumer.wait_assigned(45)
    produced = _kcat(
        "-P", "-b", rig.bootstrap, "-t", rig.topics["requests"], "-k", "u42", stdin=request + "\n"
    )
    assert produced.returncode == 0, produced.stderr

    deadline = time.monotonic() + 60
    results: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        read = _kcat(
            "-C", "-b", rig.bootstrap, "-t", rig.topics["results"],
            "-X", "isolation.level=read_committed", "-o", "beginning", "-e", "-q",
        )  # fmt: skip
        assert read.returncode == 0, read.stderr
        results = [json.loads(line) for line in read.stdout.splitlines() if line.strip()]
        if results:
            break
        time.sleep(0.5)
    time.sleep(1.0)  # a duplicate would be committed by now
    again = _kcat(
        "-C", "-b", rig.bootstrap, "-t", rig.topics["results"],
        "-X", "isolation.level=read_committed", "-o", "beginning", "-e", "-q",
    )  # fmt: skip
    results = [json.loads(line) for line in again.stdout.splitlines() if line.strip()]
    assert [(r["request_id"], r["status"]) for r in results] == [("kcat-req-1", "succeeded")]
    assert consumer.stop() == 0

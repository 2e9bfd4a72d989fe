"""The secured tier: one SASL_SSL + mTLS broker with StandardAuthorizer for the session
(`SecureKafkaBroker`), a moto S3, and per test fresh topics and group granted to the role
users `consumer`, `producer`, `ops` with exactly their rules (`devstack.acls`).

Every command runs as a subprocess with a clean environment: only its role's `KAFKA_*`
variables, so nothing it does can borrow another role's permission.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import started, unique
from upload_stream_cli.devstack.acls import ROLES, Names, Rule, role_rules
from upload_stream_cli.devstack.s3 import FAKE_AWS_ENV, MotoS3Server, create_buckets
from upload_stream_cli.devstack.secure_kafka import SecureKafkaBroker

_SECURED = Path(__file__).resolve().parent
REPO_ROOT = _SECURED.parents[1]
# What a subprocess keeps from our environment: nothing Kafka, nothing AWS but the fakes.
_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _SECURED in item.path.parents:
            item.add_marker(pytest.mark.secured)


@pytest.fixture(scope="session")
def secure_broker() -> Iterator[SecureKafkaBroker]:
    with started(SecureKafkaBroker(), "the secured broker") as broker:
        yield broker


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with started(MotoS3Server(), "moto") as server:
        yield server.endpoint


@dataclass(frozen=True)
class Run:
    """A finished command: exit status, output and how long it took."""

    status: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def last_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""


@dataclass
class Deployment:
    """Fresh topics, group, bucket and staging dir, granted to the role users."""

    broker: SecureKafkaBroker
    s3_endpoint: str
    names: Names
    bucket: str
    staging: Path
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def role_env(self, role: str, **extra: str) -> dict[str, str]:
        """A clean environment: the role's KAFKA_* variables, S3, the topic names."""
        env = {k: v for k, v in os.environ.items() if k in _KEEP}
        env.update(FAKE_AWS_ENV)
        env.update(
            {
                "AWS_ENDPOINT_URL": self.s3_endpoint,
                "UPLOAD_STREAM_REQUESTS_TOPIC": self.names.requests,
                "UPLOAD_STREAM_RESULTS_TOPIC": self.names.results,
                "UPLOAD_STREAM_DLQ_TOPIC": self.names.dlq,
                "UPLOAD_STREAM_GROUP_ID": self.names.group,
                "UPLOAD_STREAM_DEFAULT_BUCKET": self.bucket,
                "UPLOAD_STREAM_STAGING_ALLOWLIST": f"file://{self.staging}/",
                "UPLOAD_STREAM_STAGING_URI": f"file://{self.staging}/",
                "UPLOAD_STREAM_SSE": "none",
                "UPLOAD_STREAM_METRICS_PORT": "0",
                "UPLOAD_STREAM_LOG_FORMAT": "json",
                "UPLOAD_STREAM_FETCH_WAIT_MAX_MS": "50",
                "UPLOAD_STREAM_CHECKPOINT_INTERVAL_S": "0.2",
                "UPLOAD_STREAM_SESSION_TIMEOUT_MS": "6000",
                "UPLOAD_STREAM_TRANSACTION_TIMEOUT_MS": "10000",
                "UPLOAD_STREAM_STATS_INTERVAL_MS": "0",
            }
        )
        if role in self.broker.passwords:
            env.update(self.broker.client_env(role))
        env.update(extra)
        return env

    def user_without(self, role: str, missing: Rule | None) -> str:
        """A new SCRAM user holding the role's rules except `missing`."""
        name = unique(f"{role}-minus")
        self.broker.add_user(name)
        self.broker.grant(name, [r for r in role_rules(role, self.names) if r != missing])
        return name

    def cli(self, env: dict[str, str], *args: str, timeout: float = 90.0) -> Run:
        start = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "upload_stream_cli.entry", *args],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - start)

    def start_consumer(self, env: dict[str, str]) -> Consumer:
        log = self.logs / f"consumer-{len(self.processes)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "upload_stream_cli.entry", "consume"],
                env=env,
                cwd=REPO_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(proc)
        return Consumer(proc, log, time.monotonic())


@dataclass
class Consumer:
    """`upload-stream consume` as a subprocess, its JSON log lines in `log`."""

    proc: subprocess.Popen[bytes]
    log: Path
    started: float

    def lines(self) -> list[dict[str, Any]]:
        found = []
        for raw in self.log.read_text(errors="replace").splitlines():
            try:
                found.append(json.loads(raw))
            except ValueError:
                found.append({"msg": raw, "level": "RAW"})
        return found

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line.get("msg", "") for line in self.lines()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} in the consumer log:\n{self.log.read_text()}")
            time.sleep(0.1)

    def wait_exit(self, timeout: float = 30.0) -> tuple[int, float]:
        """(exit status, seconds since start)."""
        status = self.proc.wait(timeout=timeout)
        return status, time.monotonic() - self.started

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


@pytest.fixture
def deployment(
    secure_broker: SecureKafkaBroker, s3_endpoint: str, tmp_path: Path
) -> Iterator[Deployment]:
    names = Names(
        requests=unique("sec.requests"),
        results=unique("sec.results"),
        dlq=unique("sec.dlq"),
        group=unique("sec-group"),
    )
    secure_broker.create_topics([names.requests, names.results, names.dlq], partitions=2)
    for role in ROLES:
        secure_broker.grant(role, role_rules(role, names))
    bucket = unique("sec-dest")
    create_buckets(s3_endpoint, [bucket], fake_credentials=True)
    staging = tmp_path / "staging"
    staging.mkdir()
    made = Deployment(secure_broker, s3_endpoint, names, bucket, staging, tmp_path)
    try:
        yield made
    finally:
        for proc in made.processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)

"""Shared by the producer's integration tests (no tests here): one pipeline per session.

`pipeline(stack)` creates fresh topics, a staging bucket, a staging directory and a
destination bucket, and starts the real consumer (`upload-stream consume`) as a subprocess
on them. It is started once per session and stopped by a session finalizer, because a
consumer start plus group join costs several seconds.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from producer_lib.client import UploadClient
from producer_lib.s3_staging import S3Stager
from producer_lib.settings import ProducerSettings
from upload_stream_cli.devstack.kafka import create_topics
from upload_stream_cli.devstack.s3 import s3_client

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 60.0


@dataclass
class Pipeline:
    bootstrap_servers: str
    s3_endpoint: str
    env: dict[str, str]
    topics: dict[str, str]
    staging_bucket: str
    staging_dir: Path
    dest_bucket: str
    group_id: str
    log_path: Path
    fake_credentials: bool
    process: subprocess.Popen[bytes] | None = None
    clients: list[UploadClient] = field(default_factory=list)
    env_mode: str = ""

    @property
    def kafka(self) -> dict[str, str]:
        return {"bootstrap.servers": self.bootstrap_servers}

    @property
    def staging_uri(self) -> str:
        return f"s3://{self.staging_bucket}/staged/"

    def settings(self, **overrides: Any) -> ProducerSettings:
        values: dict[str, Any] = {
            "staging_uri": self.staging_uri,
            "requests_topic": self.topics["requests"],
            "results_topic": self.topics["results"],
            "publish_timeout_s": 10.0,
        }
        values.update(overrides)
        return ProducerSettings(**values)

    def client(self, **overrides: Any) -> UploadClient:
        settings = self.settings(**overrides)
        # An explicit S3 client: the harness's endpoint is not in this process's environment.
        stager = S3Stager.from_uri(
            settings.staging_uri or "",
            client=s3_client(self.s3_endpoint, fake_credentials=self.fake_credentials),
        )
        client = UploadClient(settings, kafka=self.kafka, stager=stager)
        self.clients.append(client)
        return client

    def mode_env(self) -> dict[str, str]:
        """What AWSService and the CLI read from the environment for this pipeline."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "AWS_ENDPOINT_URL": self.s3_endpoint,
            "UPLOAD_STREAM_STAGING_URI": self.staging_uri,
            "UPLOAD_STREAM_REQUESTS_TOPIC": self.topics["requests"],
            "UPLOAD_STREAM_RESULTS_TOPIC": self.topics["results"],
            "UPLOAD_STREAM_DEFAULT_BUCKET": self.dest_bucket,
        }

    def consumer_log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


_SHARED: dict[str, Pipeline] = {}


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def pipeline(request: pytest.FixtureRequest, stack: Any) -> Pipeline:
    """The session's pipeline, started on first use."""
    if "p" in _SHARED:
        return _SHARED["p"]
    topics = {role: _unique(f"prod.{role}") for role in ("requests", "results", "dlq")}
    create_topics(stack.bootstrap_servers, topics.values(), 3)
    s3 = s3_client(stack.s3_endpoint, fake_credentials=stack.fake_credentials)
    staging_bucket, dest_bucket = _unique("prod-staging"), _unique("prod-dest")
    for bucket in (staging_bucket, dest_bucket):
        s3.create_bucket(Bucket=bucket)
    staging_dir = Path(tempfile.mkdtemp(prefix="prod-staging-"))
    env = {**os.environ, **stack.env()}
    env.update(
        {
            "UPLOAD_STREAM_DEFAULT_BUCKET": dest_bucket,
            "UPLOAD_STREAM_STAGING_ALLOWLIST": f"s3://{staging_bucket}/staged/,"
            f"file://{staging_dir}/",
            "UPLOAD_STREAM_REQUESTS_TOPIC": topics["requests"],
            "UPLOAD_STREAM_RESULTS_TOPIC": topics["results"],
            "UPLOAD_STREAM_DLQ_TOPIC": topics["dlq"],
            "UPLOAD_STREAM_GROUP_ID": _unique("prod-group"),
            "UPLOAD_STREAM_METRICS_PORT": "0",
            "UPLOAD_STREAM_LOG_FORMAT": "text",
            "PYTHONPATH": str(REPO),
        }
    )
    log_path = Path(tempfile.mkstemp(prefix="prod-consumer-", suffix=".log")[1])
    made = Pipeline(
        bootstrap_servers=stack.bootstrap_servers,
        s3_endpoint=stack.s3_endpoint,
        env=env,
        topics=topics,
        staging_bucket=staging_bucket,
        staging_dir=staging_dir,
        dest_bucket=dest_bucket,
        group_id=env["UPLOAD_STREAM_GROUP_ID"],
        log_path=log_path,
        fake_credentials=stack.fake_credentials,
    )
    _SHARED["p"] = made
    request.session.addfinalizer(lambda: _stop(made))
    _start_consumer(made)
    return made


def _start_consumer(made: Pipeline) -> None:
    with open(made.log_path, "wb") as log:
        made.process = subprocess.Popen(
            [sys.executable, "-m", "upload_stream_cli.entry", "consume"],
            env=made.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    _wait_ready(made)


def _wait_ready(made: Pipeline) -> None:
    """A probe request round-trips: the consumer has joined and is answering."""
    client = made.client()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        assert made.process is not None
        if made.process.poll() is not None:
            pytest.fail(f"the consumer exited early:\n{made.consumer_log()}")
        try:
            client.upload("probe", {"probe": b"probe"}, "probe", timeout=10.0)
            return
        except TimeoutError:
            if time.monotonic() > deadline:
                pytest.fail(f"the consumer never answered:\n{made.consumer_log()}")


def _stop(made: Pipeline) -> None:
    for client in made.clients:
        client.close()
    if made.process is not None and made.process.poll() is None:
        made.process.send_signal(signal.SIGTERM)
        try:
            made.process.wait(30)
        except subprocess.TimeoutExpired:
            made.process.kill()
            made.process.wait(5)
    _SHARED.clear()


def read_s3_url(s3: Any, url: str) -> bytes:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def staged_keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def env_patch(monkeypatch: pytest.MonkeyPatch, values: Mapping[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def aws_service_env(
    monkeypatch: pytest.MonkeyPatch, made: Pipeline, mode: str
) -> Iterator[Pipeline]:
    """The environment `AWSService()` reads, in `direct` or `kafka` mode, for this pipeline.
    The process-wide Kafka client is rebuilt per test from it."""
    from producer_lib.client import close_default_client

    env_patch(monkeypatch, {**made.mode_env(), "UPLOAD_STREAM_AWS_SERVICE_MODE": mode})
    made.env_mode = mode
    close_default_client()
    yield made
    close_default_client()


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django_project.settings")
    import django

    django.setup()


def expected_url(
    made: Pipeline, category: str, user_id: Any, file_type: str, content: bytes, name: str
) -> str:
    """The contract's content-addressed destination of one file."""
    from schemas import destination_key

    key = destination_key(
        file_category=category,
        user_id=str(user_id),
        file_type=file_type,
        sha256=hashlib.sha256(content).hexdigest(),
        filename=name,
        content_type="application/octet-stream",
    )
    return f"s3://{made.dest_bucket}/{key}"

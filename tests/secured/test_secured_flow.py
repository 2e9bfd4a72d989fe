"""The happy paths on the secured broker, each role with only its own ACLs: end to end
(consume, `submit --wait`, `results`), replay from failed results, `dlq list`, and ops
through a client certificate (mTLS) instead of a password."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest

from tests.secured.conftest import Deployment
from upload_stream_cli.devstack.acls import Rule, role_rules
from upload_stream_cli.devstack.s3 import FAKE_AWS_ENV


def _s3(deployment: Deployment) -> object:
    return boto3.client(
        "s3",
        endpoint_url=deployment.s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def _document(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_submit_wait_results_and_dlq_each_with_its_own_acls(
    deployment: Deployment, tmp_path: Path
) -> None:
    consumer = deployment.start_consumer(
        deployment.role_env(
            "consumer", UPLOAD_STREAM_LOG_LEVEL="DEBUG", KAFKA_DEBUG="security,broker,protocol"
        )
    )
    consumer.wait_for("assigned", timeout=45)
    passport = _document(tmp_path, "scan.pdf", b"%PDF-1.7 secured passport")
    outputs: list[str] = []

    submitted = deployment.cli(
        deployment.role_env("producer"), "submit", "7", f"passport={passport}", "--wait", "--json"
    )
    assert submitted.status == 0, submitted.stderr
    outputs += [submitted.stdout, submitted.stderr]
    result = json.loads(submitted.stdout)
    assert result["status"] == "succeeded"

    for role in ("producer", "ops"):
        found = deployment.cli(
            deployment.role_env(role),
            "results", "--from-beginning", "--json", "--request-id", result["request_id"],
        )  # fmt: skip
        assert found.status == 0, found.stderr
        outputs += [found.stdout, found.stderr]
        assert [json.loads(line)["request_id"] for line in found.stdout.splitlines()] == [
            result["request_id"]
        ]
        assert "Group authorization" not in found.stderr

    listed = deployment.cli(deployment.role_env("ops"), "dlq", "list")
    assert listed.status == 0, listed.stderr
    assert consumer.stop() == 0
    # No credential in any output, the consumer's DEBUG log included (the secrets test,
    # on the secured stack).
    outputs += [listed.stdout, listed.stderr, consumer.log.read_text()]
    assert len(outputs[-1].splitlines()) > 20
    leaked = [
        user
        for user, password in deployment.broker.passwords.items()
        if any(password in text for text in outputs)
    ]
    assert leaked == []


def test_replay_from_results_with_ops_acls_alone(deployment: Deployment, tmp_path: Path) -> None:
    s3 = _s3(deployment)
    late = f"{deployment.bucket}-late"  # not created yet: uploads fail, then are replayed
    consumer = deployment.start_consumer(
        deployment.role_env("consumer", UPLOAD_STREAM_DEFAULT_BUCKET=late)
    )
    consumer.wait_for("assigned", timeout=45)
    passport = _document(tmp_path, "scan.pdf", b"%PDF-1.7 replayed passport")
    failed = deployment.cli(
        deployment.role_env("producer", UPLOAD_STREAM_DEFAULT_BUCKET=late),
        "submit", "8", f"passport={passport}", "--wait", "--json",
    )  # fmt: skip
    assert json.loads(failed.stdout)["status"] == "failed", failed.stderr

    s3.create_bucket(Bucket=late)  # type: ignore[attr-defined]
    # Without Write on the requests topic, replay says so and exits 1.
    write = Rule("topic", deployment.names.requests, "write")
    no_write = deployment.user_without("ops", write)
    refused = deployment.cli(
        deployment.role_env("ops", **deployment.broker.client_env(no_write)),
        "replay", "--from", "results", "--code", "destination_not_found",
    )  # fmt: skip
    assert refused.status == 1, refused.stderr
    assert f"missing Write on topic {deployment.names.requests}" in (refused.stderr)
    assert "Traceback" not in refused.stderr
    replayed = deployment.cli(
        deployment.role_env("ops"), "replay", "--from", "results",
        "--code", "destination_not_found", "--json",
    )  # fmt: skip
    assert replayed.status == 0, replayed.stderr
    summary = json.loads(replayed.stdout.splitlines()[-1])
    assert summary["counts"]["published"] == 1

    replay_id = f"{json.loads(failed.stdout)['request_id']}.r2"
    deadline = time.monotonic() + 60
    statuses: list[str] = []
    while not statuses and time.monotonic() < deadline:
        found = deployment.cli(
            deployment.role_env("ops"),
            "results", "--from-beginning", "--json", "--request-id", replay_id,
        )  # fmt: skip
        assert found.status == 0, found.stderr
        statuses = [json.loads(line)["status"] for line in found.stdout.splitlines()]
        time.sleep(0.5)
    assert statuses == ["succeeded"]
    assert consumer.stop() == 0


def test_ops_reads_through_a_client_certificate(deployment: Deployment) -> None:
    env = {k: v for k, v in deployment.role_env("mtls").items() if not k.startswith("KAFKA_")}
    env.update(deployment.broker.mtls_env("ops"))
    listed = deployment.cli(env, "dlq", "list")
    assert listed.status == 0, listed.stderr
    found = deployment.cli(env, "results", "--from-beginning")
    assert found.status == 0, found.stderr
    assert deployment.broker.mtls_env("ops")["KAFKA_SSL_KEY_PASSWORD"] not in (
        listed.stdout + listed.stderr + found.stdout + found.stderr
    )


def test_ops_reader_needs_no_group_acl_and_its_coordinator_lookup_is_refused_harmlessly(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Python client will not make a consumer without a `group.id` (unit test:
    tests/unit/test_kafka_faults.py), so the ops reader carries a throw-away one and
    librdkafka looks up its coordinator: refused, since ops has no group ACL at all, and
    ignored; the reader reads by assignment all the same."""
    from confluent_kafka import KafkaError, Producer

    from upload_stream_cli.ops import topics
    from upload_stream_cli.ops.topics import read_to_end

    names = deployment.names
    assert not [rule for rule in role_rules("ops", names) if rule.kind == "group"]
    producer = Producer(deployment.broker.client_config("consumer"))  # Write on the DLQ
    producer.produce(names.dlq, key=b"u", value=b"{not json")
    assert producer.flush(30) == 0
    refused: list[str] = []
    ignorable = topics.ignorable

    def noting(err: KafkaError) -> bool:
        if err.code() == KafkaError.GROUP_AUTHORIZATION_FAILED:
            refused.append(err.str())
        return ignorable(err)

    monkeypatch.setattr(topics, "ignorable", noting)
    records = list(read_to_end(deployment.broker.client_config("ops"), names.dlq, timeout_s=30))
    assert [r.value for r in records] == [b"{not json"]
    assert refused, "no coordinator lookup was refused: does the reader still need a group?"

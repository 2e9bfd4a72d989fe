"""Negative tests on the secured broker: every rule of every role taken away in turn, a wrong
password, bad connection settings, a dead-letter topic that cannot be written. Each must end
the command within seconds, with one line naming the cause, the documented exit status and
no traceback; none may print a credential.

Set `UPLOAD_STREAM_SECURED_REPORT=path` to get the table of messages, statuses and times.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tests.secured.conftest import Deployment, Run
from upload_stream_cli.devstack.acls import Rule, role_rules

EXIT_FAILURE, EXIT_USAGE = 1, 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _report(case: str, status: int, seconds: float, message: str) -> None:
    path = os.environ.get("UPLOAD_STREAM_SECURED_REPORT")
    if path:
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(f"| {case} | `{message}` | {status} | {seconds:.1f} s |\n")


def _assert_one_clean_line(run: Run, *secrets: str) -> None:
    assert "Traceback" not in run.stderr, run.stderr
    for secret in secrets:
        assert secret not in run.stdout + run.stderr


def _fatal_line(lines: list[dict[str, object]]) -> str:
    """The consumer's own word on why it stops: its one "fatal Kafka error" line."""
    errors = [str(line["msg"]) for line in lines if "fatal Kafka error" in str(line.get("msg"))]
    return errors[-1] if errors else ""


# -- consumer ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0, "missing Read on topic {requests}"),
        (1, "missing Read on group {group}"),
        (2, "missing Write on topic {results}"),
        (3, "missing Write on topic {dlq}"),
        (4, "missing Write on transactional-id"),
    ],
    ids=["read-requests", "read-group", "write-results", "write-dlq", "write-txn-id"],
)
def test_consumer_missing_one_acl_exits_1_naming_it(
    deployment: Deployment, index: int, expected: str
) -> None:
    missing = role_rules("consumer", deployment.names)[index]
    user = deployment.user_without("consumer", missing)
    env = deployment.role_env("consumer", **deployment.broker.client_env(user))
    consumer = deployment.start_consumer(env)
    status, seconds = consumer.wait_exit(timeout=60)
    line = _fatal_line(consumer.lines())
    names = deployment.names
    _report(f"consumer without {missing}", status, seconds, line)
    assert status == EXIT_FAILURE
    assert expected.format(requests=names.requests, group=names.group, results=names.results,
                           dlq=names.dlq) in line  # fmt: skip
    assert seconds < 30
    assert deployment.broker.passwords[user] not in consumer.log.read_text()


@pytest.mark.parametrize("guarantee", ["exactly_once", "at_least_once"])
def test_consumer_that_cannot_write_dead_letters_exits_instead_of_looping(
    deployment: Deployment, guarantee: str
) -> None:
    """Describe on the DLQ (so start-up passes) but no Write: the first dead letter ends it."""
    names = deployment.names
    dlq_write = Rule("topic", names.dlq, "write")
    user = deployment.user_without("consumer", dlq_write)
    deployment.broker.grant(user, [Rule("topic", names.dlq, "read")])  # Describe via Read
    consumer = deployment.start_consumer(
        deployment.role_env(
            "consumer",
            UPLOAD_STREAM_PROCESSING_GUARANTEE=guarantee,
            UPLOAD_STREAM_METRICS_PORT=str(_free_port()),
            **deployment.broker.client_env(user),
        )
    )
    consumer.wait_for("assigned", timeout=45)
    from confluent_kafka import Producer

    producer = Producer(deployment.broker.client_config("producer"))
    producer.produce(names.requests, key=b"u", value=b"{not json")
    assert producer.flush(30) == 0
    status, seconds = consumer.wait_exit(timeout=60)
    line = _fatal_line(consumer.lines())
    _report(f"consumer ({guarantee}), DLQ not writable", status, seconds, line)
    assert status == EXIT_FAILURE
    # Said by kafka_faults (delivery report) or by the checkpoint (refused transaction).
    assert names.dlq in line
    assert "missing Write on topic" in line or "TOPIC_AUTHORIZATION_FAILED" in line
    # Bounded: librdkafka may first answer a generic _STATE for the failed transaction
    # (measured: 2 such aborts, then the authorization error), never a loop.
    aborted = [m for m in consumer.lines() if "aborting transaction" in str(m.get("msg"))]
    assert len(aborted) <= 10
    redone = [m for m in consumer.lines() if m.get("code") == "invalid_json"]
    assert 1 <= len(redone) <= 10
    assert seconds < 30


def test_consumer_with_a_missing_dlq_topic_exits_at_start(deployment: Deployment) -> None:
    env = deployment.role_env("consumer", UPLOAD_STREAM_DLQ_TOPIC="sec.no-such-topic")
    deployment.broker.grant("consumer", [Rule("topic", "sec.no-such-topic", "write")])
    consumer = deployment.start_consumer(env)
    status, seconds = consumer.wait_exit(timeout=60)
    line = _fatal_line(consumer.lines())
    _report("consumer, DLQ topic missing", status, seconds, line)
    assert status == EXIT_FAILURE
    assert "topic sec.no-such-topic does not exist" in line
    assert seconds < 30


@pytest.mark.parametrize("guarantee", ["exactly_once", "at_least_once"])
def test_consumer_with_a_wrong_password_says_authentication_and_exits(
    deployment: Deployment, guarantee: str
) -> None:
    wrong = "not-the-password-" + os.urandom(4).hex()
    env = deployment.role_env(
        "consumer",
        KAFKA_SASL_PASSWORD=wrong,
        UPLOAD_STREAM_PROCESSING_GUARANTEE=guarantee,
    )
    consumer = deployment.start_consumer(env)
    status, seconds = consumer.wait_exit(timeout=60)
    line = _fatal_line(consumer.lines())
    _report(f"consumer ({guarantee}), wrong password", status, seconds, line)
    assert status == EXIT_FAILURE
    assert "authentication failed" in line
    assert seconds < 15
    assert wrong not in consumer.log.read_text()


# -- producer and ops commands -------------------------------------------------------------


def _submit(deployment: Deployment, env: dict[str, str], tmp_path: Path, *extra: str) -> Run:
    passport = tmp_path / "p.pdf"
    passport.write_bytes(b"%PDF-1.7 x")
    return deployment.cli(env, "submit", "9", f"passport={passport}", *extra)


@pytest.mark.parametrize(
    ("role", "index", "command", "expected"),
    [
        ("producer", 0, ["submit"], "Write on topic {requests}"),
        ("producer", 1, ["submit", "--wait"], "missing Read on topic {results}"),
        ("producer", 1, ["results"], "missing Read on topic {results}"),
        ("ops", 0, ["replay", "--from", "results"], "missing Read on topic {requests}"),
        ("ops", 2, ["results"], "missing Read on topic {results}"),
        ("ops", 3, ["dlq", "list"], "missing Read on topic {dlq}"),
    ],
    ids=[
        "producer-write-requests",
        "producer-read-results-wait",
        "producer-read-results",
        "ops-read-requests",
        "ops-read-results",
        "ops-read-dlq",
    ],
)
def test_command_missing_one_acl_exits_1_with_one_line(
    deployment: Deployment,
    tmp_path: Path,
    role: str,
    index: int,
    command: list[str],
    expected: str,
) -> None:
    missing = role_rules(role, deployment.names)[index]
    user = deployment.user_without(role, missing)
    env = deployment.role_env(role, **deployment.broker.client_env(user))
    if command[0] == "replay":  # something to read, or reading an empty topic succeeds
        from confluent_kafka import Producer

        producer = Producer(deployment.broker.client_config("producer"))
        producer.produce(deployment.names.requests, key=b"u", value=b"{}")
        assert producer.flush(30) == 0
    if command[0] == "submit":
        run = _submit(deployment, env, tmp_path, *command[1:])
    else:
        run = deployment.cli(env, *command)
    n = deployment.names
    _report(f"`{' '.join(command)}` as {role} without {missing}", run.status, run.seconds,
            run.last_line)  # fmt: skip
    assert run.status == EXIT_FAILURE, run.stderr
    assert expected.format(requests=n.requests, results=n.results, dlq=n.dlq) in run.last_line
    _assert_one_clean_line(run, deployment.broker.passwords[user])
    assert run.seconds < 30


@pytest.mark.parametrize(
    "command", [["dlq", "list"], ["results"], ["replay", "--from", "dlq"], ["submit", "--wait"]]
)
def test_wrong_password_fails_fast_saying_authentication(
    deployment: Deployment, tmp_path: Path, command: list[str]
) -> None:
    wrong = "not-the-password-" + os.urandom(4).hex()
    role = "producer" if command[0] == "submit" else "ops"
    env = deployment.role_env(role, KAFKA_SASL_PASSWORD=wrong)
    run = (
        _submit(deployment, env, tmp_path, *command[1:])
        if command[0] == "submit"
        else (deployment.cli(env, *command))
    )
    _report(f"`{' '.join(command)}`, wrong password", run.status, run.seconds, run.last_line)
    assert run.status == EXIT_FAILURE, run.stderr
    assert "authentication failed" in run.last_line.lower()
    _assert_one_clean_line(run, wrong)
    assert run.seconds < 15


# -- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_TLS"}, "KAFKA_SECURITY_PROTOCOL='SASL_TLS' is not one"),
        ({"KAFKA_SASL_MECHANISM": "SCRAM"}, "KAFKA_SASL_MECHANISM='SCRAM' is not one"),
        ({"KAFKA_SSL_CA_LOCATION": "/nonexistent/ca.pem"}, "KAFKA_SSL_CA_LOCATION: no such file"),
        ({"KAFKA_SSL_KEY_LOCATION": "/nonexistent/k.pem"}, "KAFKA_SSL_KEY_LOCATION: no such file"),
        ({"KAFKA_NO_SUCH_SETTING": "1"}, "KAFKA_NO_SUCH_SETTING: No such configuration property"),
    ],
    ids=["protocol", "mechanism", "ca-path", "key-path", "unknown-key"],
)
@pytest.mark.parametrize("command", [["consume"], ["dlq", "list"], ["results"]])
def test_bad_setting_exits_2_naming_the_variable(
    deployment: Deployment, variables: dict[str, str], expected: str, command: list[str]
) -> None:
    run = deployment.cli(deployment.role_env("ops", **variables), *command)
    if command == ["consume"]:
        _report(f"`consume`, {next(iter(variables))} bad", run.status, run.seconds, run.last_line)
    assert run.status == EXIT_USAGE, run.stderr
    assert expected in run.last_line
    assert run.stderr.strip().count("\n") == 0, run.stderr
    assert run.seconds < 10


def test_lower_case_mechanism_and_protocol_work(deployment: Deployment) -> None:
    env = deployment.role_env(
        "ops", KAFKA_SASL_MECHANISM="scram-sha-512", KAFKA_SECURITY_PROTOCOL="sasl_ssl"
    )
    run = deployment.cli(env, "dlq", "list")
    assert run.status == 0, run.stderr


def test_taken_metrics_port_is_one_line_exit_2(deployment: Deployment) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))  # the consumer binds 0.0.0.0
        taken.listen()
        port = taken.getsockname()[1]
        run = deployment.cli(
            deployment.role_env("consumer", UPLOAD_STREAM_METRICS_PORT=str(port)), "consume"
        )
    _report("`consume`, metrics port taken", run.status, run.seconds, run.last_line)
    assert run.status == EXIT_USAGE, run.stderr
    assert f"UPLOAD_STREAM_METRICS_PORT={port}: cannot listen" in run.last_line
    assert "Traceback" not in run.stderr

"""Which Kafka errors end the consumer, and the one line each says; what an assign-only
reader may ignore, and why it has a group id at all."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from confluent_kafka import Consumer, KafkaError

from consumer.kafka_faults import Context, fatal_reason
from kafka_config.faults import ignorable

CONTEXT = Context("grp", "grp-host-1", "reqs")


@pytest.mark.parametrize(
    ("code", "topic", "reason"),
    [
        (KafkaError._AUTHENTICATION, None, "authentication failed: x (check KAFKA_SASL_USERNAME"),
        (KafkaError.SASL_AUTHENTICATION_FAILED, None, "authentication failed: x"),
        (KafkaError._SSL, None, "TLS failed: x (check KAFKA_SSL_CA_LOCATION"),
        (KafkaError.GROUP_AUTHORIZATION_FAILED, None, "not authorized: missing Read on group grp"),
        (
            KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            None,
            "not authorized: missing Write on transactional-id grp-host-1 (grant it on the "
            "prefix grp-)",
        ),
        (KafkaError.CLUSTER_AUTHORIZATION_FAILED, None, "not authorized: missing IdempotentWrite"),
        (
            KafkaError.TOPIC_AUTHORIZATION_FAILED,
            "dlq",
            "not authorized: missing Write on topic dlq",
        ),
        (KafkaError.TOPIC_AUTHORIZATION_FAILED, None, "not authorized: missing Read on topic reqs"),
        (KafkaError.UNKNOWN_TOPIC_OR_PART, "dlq", "topic dlq does not exist"),
        (KafkaError._UNKNOWN_TOPIC, "res", "topic res does not exist"),
    ],
)
def test_unfixable_errors_name_what_to_change(code: int, topic: str | None, reason: str) -> None:
    found = fatal_reason(KafkaError(code, "x"), CONTEXT, topic=topic)
    assert found is not None
    assert found.startswith(reason)


@pytest.mark.parametrize(
    "code",
    [KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError.NOT_COORDINATOR,
     KafkaError._TIMED_OUT, KafkaError.REQUEST_TIMED_OUT],
)  # fmt: skip
def test_transient_errors_are_left_to_retries(code: int) -> None:
    assert fatal_reason(KafkaError(code, "x"), CONTEXT) is None


def test_assign_only_readers_ignore_only_the_group_lookup_and_eof() -> None:
    assert ignorable(KafkaError(KafkaError.GROUP_AUTHORIZATION_FAILED))
    assert ignorable(KafkaError(KafkaError._PARTITION_EOF))
    assert not ignorable(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    assert not ignorable(KafkaError(KafkaError._AUTHENTICATION))


def test_the_python_client_makes_no_consumer_without_a_group_id() -> None:
    """Why the assign-only readers carry a throw-away `group.id` (kafka_config/faults.py).
    Unset, even with auto-commit and the offset store off, the client refuses; empty (or
    None), the process aborts: Consumer.c asserts the consumer queue that librdkafka only
    makes for a group. Should this fail one day, the readers can drop their group.id."""
    with pytest.raises(ValueError, match=r"group\.id must be set"):
        Consumer(
            {
                "bootstrap.servers": "127.0.0.1:1",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
            }
        )
    empty = "Consumer({'bootstrap.servers': '127.0.0.1:1', 'group.id': '', 'log_level': 0})"
    done = subprocess.run(
        [sys.executable, "-c", f"from confluent_kafka import Consumer; {empty}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -signal.SIGABRT, done
    assert "Assertion `self->u.Consumer.rkqu' failed" in done.stderr

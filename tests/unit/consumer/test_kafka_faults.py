"""Which Kafka errors end the consumer, and the one line each says."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

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

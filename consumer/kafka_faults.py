"""Kafka errors no retry can fix: a wrong password, a missing ACL, a missing topic.

librdkafka flags none of these fatal (a permission may be granted later), so left alone
they turn into loops: a dead letter that cannot be written aborts the transaction, the
partition is rewound, the request is uploaded again, for ever. For this service they are
fatal: the process exits 1 with one line naming what to change, and its supervisor alerts.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError

AUTHENTICATION = frozenset({KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED})
_MISSING_TOPIC = frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC})
#: Errors whose message needs the topic they were about.
ABOUT_A_TOPIC = _MISSING_TOPIC | {KafkaError.TOPIC_AUTHORIZATION_FAILED}
FATAL_FOR_US = (
    AUTHENTICATION
    | _MISSING_TOPIC
    | frozenset(
        {
            KafkaError._SSL,
            KafkaError.TOPIC_AUTHORIZATION_FAILED,
            KafkaError.GROUP_AUTHORIZATION_FAILED,
            KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        }
    )
)


@dataclass(frozen=True)
class Context:
    """The names an error message needs to say which permission is missing."""

    group_id: str
    transactional_id: str | None
    requests_topic: str


#: For code that does not know the names (the checkpoint): the messages stay true.
UNNAMED = Context("(the consumer group)", "(this transactional id)", "(the requests topic)")


def fatal_reason(  # noqa: PLR0911  (one answer per kind of error)
    err: KafkaError, context: Context, *, topic: str | None = None
) -> str | None:
    """One line saying what is wrong and what to grant, or None when a retry may help.

    `topic`: the topic a failed delivery was for (a write), None for the consumer's errors."""
    code = err.code()
    if code not in FATAL_FOR_US:
        return None
    what = err.str()
    if code in AUTHENTICATION:
        return (
            f"authentication failed: {what} (check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, "
            "KAFKA_SASL_MECHANISM)"
        )
    if code == KafkaError._SSL:
        return f"TLS failed: {what} (check KAFKA_SSL_CA_LOCATION and the client certificate)"
    if code == KafkaError.GROUP_AUTHORIZATION_FAILED:
        return f"not authorized: missing Read on group {context.group_id} ({what})"
    if code == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
        return (
            f"not authorized: missing Write on transactional-id {context.transactional_id} "
            f"(grant it on the prefix {context.group_id}-) ({what})"
        )
    if code == KafkaError.CLUSTER_AUTHORIZATION_FAILED:
        return f"not authorized: missing IdempotentWrite on the cluster ({what})"
    if code in _MISSING_TOPIC:
        return f"topic {topic or '?'} does not exist ({what})"
    if topic is not None:
        return f"not authorized: missing Write on topic {topic} ({what})"
    return f"not authorized: missing Read on topic {context.requests_topic} ({what})"

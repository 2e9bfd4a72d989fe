"""Readers that assign partitions themselves (ops tools, reply routers): what they ignore,
and how they fail fast on a wrong password.

The Python client will not make a consumer without `group.id` (unset: ValueError, even
with auto-commit and the offset store off; empty: the process aborts, see
tests/unit/test_kafka_faults.py), and librdkafka then looks up that group's coordinator
although nothing ever joins or commits. Without an ACL on the group that lookup fails with
GROUP_AUTHORIZATION_FAILED; such a reader ignores it, so it needs no group ACL at all
(fetching by assignment does not use the coordinator; tests/secured/test_secured_flow.py).
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException

_AUTH = frozenset({KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED})


def ignorable(err: KafkaError) -> bool:
    """True for an error an assign-only reader never needs to act on."""
    return err.code() in {KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError._PARTITION_EOF}


class KafkaLoginError(Exception):
    """The brokers refused our credentials or certificate: retrying cannot help."""


class LoginWatch:
    """Pass `error_cb` in a handle's config; `metadata()` then fails within a second or two
    of an authentication or TLS failure, naming it, instead of at its timeout."""

    def __init__(self) -> None:
        self.failure: str | None = None

    def error_cb(self, err: KafkaError) -> None:
        if err.code() in _AUTH or err.code() == KafkaError._SSL:
            self.failure = self.failure or err.str()

    def metadata(self, handle: Any, topic: str | None, timeout_s: float) -> Any:
        """`handle.list_topics(topic)` in short slices, serving error callbacks between."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return handle.list_topics(topic, timeout=min(1.0, timeout_s))
            except KafkaException:
                handle.poll(0)  # serves error_cb
                if self.failure is not None:
                    raise KafkaLoginError(self.explain()) from None
                if time.monotonic() >= deadline:
                    raise

    def explain(self) -> str:
        return (
            f"authentication failed: {self.failure} (check KAFKA_SASL_USERNAME, "
            "KAFKA_SASL_PASSWORD, KAFKA_SASL_MECHANISM, KAFKA_SSL_*)"
        )


def read_denied(topic_metadata: Any) -> bool:
    """True when metadata says we may not even describe this topic (no Read ACL on it)."""
    error = getattr(topic_metadata, "error", None)
    return error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED

"""Errors of the consumer package: one root, each saying whether a retry can help."""

from __future__ import annotations

from confluent_kafka import KafkaError

from upload_engine import errors as engine_errors


class ConsumerError(Exception):
    """Root of every error the consumer raises. `retryable` says whether trying again helps."""

    retryable = False


class ConfigurationError(ConsumerError):
    """Settings that cannot work (a required value missing): exit status 2."""


class FatalKafkaError(ConsumerError):
    """librdkafka reported a fatal error (fenced producer, lost producer id...).

    The process must stop with a non-zero status so the orchestrator restarts it; a new
    producer instance is the only way out.
    """


class StuckCallError(FatalKafkaError, engine_errors.StuckCallError):
    """The engine's `StuckCallError` for a librdkafka call (the consumer passes it to
    `offload` as `stuck_error`): it did not return long after its own timeout, so the
    handle is wedged, and the `pending` call still blocks it, which must not be destroyed
    until that call returns. Fatal when no new handle can replace it.
    """


# Produce errors that no retry can cure: the topic is missing, not ours to write, or the
# record can never fit. Any other delivery error (a timeout, a broker outage) is retried.
_UNWRITABLE = frozenset(
    {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.TOPIC_EXCEPTION,
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.POLICY_VIOLATION,
        KafkaError._INVALID_ARG,
    }
)


class OutputWriteError(FatalKafkaError):
    """A result or dead letter that cannot be written (no ACL, topic missing, too large).

    Retrying would only redo the same uploads, or abort and rewind the same transaction,
    for ever: the consumer stops instead, with the topic and librdkafka's code named.
    """

    @staticmethod
    def unwritable(err: KafkaError) -> bool:
        return err.code() in _UNWRITABLE

    @classmethod
    def of(cls, topic: str, err: KafkaError) -> OutputWriteError:
        return cls(f"cannot write to topic {topic!r}: {err.name()} ({err.str()})")

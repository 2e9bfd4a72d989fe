"""Errors of the consumer package: one root, each saying whether a retry can help."""

from __future__ import annotations

from typing import Any


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


class StuckCallError(FatalKafkaError):
    """A librdkafka call did not return long after its own timeout: the handle is wedged.

    `pending` is the call still running in its thread (a gevent `AsyncResult`, None in
    tests): the handle it blocks must not be destroyed until that call returns.
    """

    def __init__(self, message: str, pending: Any = None) -> None:
        super().__init__(message)
        self.pending = pending

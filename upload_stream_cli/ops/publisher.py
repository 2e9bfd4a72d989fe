"""Publishing replays: idempotent producer, acks=all, and every delivery waited for.

A replay counts as published only once the broker acknowledged it; anything not
acknowledged by the end is a failure the command reports with exit status 1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from confluent_kafka import KafkaError, KafkaException, Producer

from schemas import UploadRequest, encode_request, message_key, request_headers
from upload_stream_cli.ops.errors import OpsError
from upload_stream_cli.ops.topics import QUIET, kafka_reason

# Called once per request: None when delivered, else why not.
Done = Callable[[str | None], None]

_QUEUE_FULL_WAIT_S = 0.5


class Sender(Protocol):
    """What the executor needs; tests pass a fake."""

    def send(self, request: UploadRequest, done: Done) -> None: ...

    def finish(self, timeout_s: float = ...) -> None: ...


class ReplayPublisher:
    def __init__(self, connection: Mapping[str, str], topic: str) -> None:
        self._topic = topic
        self._pending: dict[int, Done] = {}
        self._next = 0
        try:
            self._producer = Producer(
                {
                    **connection,
                    **QUIET,
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 5,
                    "delivery.timeout.ms": 30_000,
                    "client.id": "upload-stream-replay",
                }
            )
        except KafkaException as exc:
            raise OpsError(f"cannot create the producer: {kafka_reason(exc)}") from None

    def send(self, request: UploadRequest, done: Done) -> None:
        token = self._next
        self._next += 1
        self._pending[token] = done

        def report(err: KafkaError | None, _msg: object) -> None:
            callback = self._pending.pop(token, None)
            if callback is not None:
                callback(None if err is None else self._reason(err))

        headers: list[tuple[str, str | bytes | None]] = list(request_headers(request))
        while True:
            try:
                self._producer.produce(
                    self._topic,
                    key=message_key(request.user_id),
                    value=encode_request(request),
                    headers=headers,
                    on_delivery=report,
                )
                break
            except BufferError:
                self._producer.poll(_QUEUE_FULL_WAIT_S)
            except KafkaException as exc:
                self._pending.pop(token, None)
                done(kafka_reason(exc))
                return
        self._producer.poll(0)

    def _reason(self, err: KafkaError) -> str:
        if err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
            return f"not authorized: missing Write on topic {self._topic}"
        return err.str()

    def _fatal(self, exc: KafkaException) -> str:
        err = exc.args[0] if exc.args else None
        if isinstance(err, KafkaError) and err.code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED:
            # Kafka 3.0+ lets Write on any topic open an idempotent producer; with none, it
            # asks for IdempotentWrite on the cluster.
            return f"not authorized: missing Write on topic {self._topic} ({err.str()})"
        return f"publishing failed: {kafka_reason(exc)}"

    def finish(self, timeout_s: float = 60.0) -> None:
        """Wait for every delivery report; what is still unreported then has failed."""
        try:
            remaining = self._producer.flush(timeout_s)
        except KafkaException as exc:  # fatal: the producer is refused for good
            raise OpsError(self._fatal(exc)) from None
        except SystemError:
            # confluent-kafka 2.16 runs delivery callbacks with a fatal error's exception
            # still set, so the callback's first call fails; librdkafka's FATAL line (on
            # stderr just before) says why. Measured: no Write ACL on any topic, so the
            # idempotent producer is refused ("Cluster authorization failed").
            raise OpsError(
                f"publishing to {self._topic} failed for good (librdkafka's FATAL line above "
                f'says why; "Cluster authorization failed" = missing Write on topic '
                f"{self._topic})"
            ) from None
        if remaining:
            # Purged messages get their delivery reports (as errors) on the next poll.
            self._producer.purge()
            self._producer.flush(0)
        for token in sorted(self._pending):
            self._pending.pop(token)(f"not acknowledged within {timeout_s:.0f} s")
        self._producer.close()  # nothing is outstanding now, so this does not wait

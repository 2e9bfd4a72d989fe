"""at_least_once: each output of a record is produced and acknowledged on its own.

A record is PUBLISHED, and so its offset may be committed, once every one of its outputs
has a successful delivery report. Acknowledgements are scoped to one output and one
attempt: a report names the output and the attempt it answers, so a late success of an
earlier attempt can never stand in for another output, nor for a retry still in flight. A
failed output is produced again, alone (its acked siblings are not duplicated); an output
that cannot be written at all (`OutputWriteError.unwritable`) stops the consumer instead.

Delivery reports are served by `poll`/`flush` on the hub (the loop greenlet, or
`KafkaIO.pump_producer`'s), and never yield, so no lock is needed.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from confluent_kafka import KafkaError, KafkaException, Message

from consumer.errors import OutputWriteError
from consumer.kafka_io import DeliveryCallback
from consumer.ledger import Record, State
from consumer.outputs import Output

log = logging.getLogger(__name__)


class Producing(Protocol):
    def produce(self, output: Output, on_delivery: DeliveryCallback | None = None) -> None: ...


@dataclass(eq=False)
class _Delivery:
    record: Record
    output: Output
    attempt: int = 0
    acked: bool = False


class Deliveries:
    def __init__(self, io: Producing) -> None:
        self._io = io
        self._to_produce: deque[_Delivery] = deque()  # new outputs and failed ones
        self._failure: OutputWriteError | None = None
        #: Failed deliveries produced again so far (the checkpoint reports them as stalled).
        self.retries = 0

    def add(self, record: Record) -> None:
        """Queue a finished record's outputs (produced by the next `produce`)."""
        record.state = State.PUBLISHING
        record.produced_at = time.monotonic()
        record.unacked = len(record.outputs)
        if not record.outputs:
            record.state = State.PUBLISHED
        self._to_produce.extend(_Delivery(record, output) for output in record.outputs)

    def produce(self) -> None:
        """Produce every queued output; raises `OutputWriteError` once one is unwritable."""
        self.check()
        while self._to_produce:
            delivery = self._to_produce.popleft()
            if delivery.record.dropped:
                continue
            delivery.attempt += 1
            report = partial(self._on_delivery, delivery, delivery.attempt)
            try:
                self._io.produce(delivery.output, on_delivery=report)
            except KafkaException as exc:
                err = exc.args[0] if exc.args else None
                if not isinstance(err, KafkaError):
                    raise
                raise OutputWriteError.of(delivery.output.topic, err) from exc

    @property
    def queued(self) -> int:
        return len(self._to_produce)

    def check(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _on_delivery(
        self, delivery: _Delivery, attempt: int, err: KafkaError | None, _message: Message
    ) -> None:
        record = delivery.record
        if record.dropped or delivery.acked or attempt != delivery.attempt:
            return  # the record was given up, or this report answers another attempt
        if err is None:
            delivery.acked = True
            record.unacked -= 1
            if record.unacked == 0:
                record.state = State.PUBLISHED
        elif OutputWriteError.unwritable(err):
            self._failure = self._failure or OutputWriteError.of(delivery.output.topic, err)
        else:
            log.warning("delivery to %s failed, producing it again: %s", delivery.output.topic, err)
            self._to_produce.append(delivery)
            self.retries += 1

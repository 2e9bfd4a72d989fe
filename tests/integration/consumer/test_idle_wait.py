"""An idle consumer's wait (`KafkaIO.wait_for_messages`) ends when a record arrives.

Against a real broker: librdkafka's `consume(n, timeout)` would wait out its timeout unless
n records came, which is why the wait is a `poll`. The bound is half the timeout, far
above a record's trip on loopback, so a loaded machine does not fail it.
"""

from __future__ import annotations

import time
from typing import Any

import gevent
from confluent_kafka import Consumer, Producer

from consumer.kafka_io import KafkaIO
from tests.integration.consumer_helpers import wait_for

TIMEOUT_S = 6.0


def test_the_idle_wait_returns_with_the_first_record_not_at_its_timeout(
    kafka_config: dict[str, str], kafka_topics: Any, group_id: str
) -> None:
    topic = kafka_topics("requests", partitions=1)["requests"]
    assigned: list[Any] = []
    consumer = Consumer({**kafka_config, "group.id": group_id, "auto.offset.reset": "earliest"})
    producer = Producer(kafka_config)
    io = KafkaIO(consumer, producer, idle_s=0.01)
    try:
        consumer.subscribe([topic], on_assign=lambda _c, parts: assigned.extend(parts))
        wait_for(lambda: bool(io.fetch(10) == [] and assigned), 30, "the group join")
        assert io.wait_for_messages(10, 0.2) == []  # nothing there: it waits out its timeout

        def publish() -> None:
            gevent.sleep(0.3)
            for n in range(3):
                producer.produce(topic, value=b"r%d" % n)
            producer.flush(5)

        sender = gevent.spawn(publish)
        started = time.monotonic()
        messages = io.wait_for_messages(10, TIMEOUT_S)
        waited = time.monotonic() - started
        sender.join(10)
        assert messages, "the wait returned without the record"
        assert messages[0].value() == b"r0"
        assert waited < TIMEOUT_S / 2, f"waited {waited:.2f} s for a record sent after 0.3 s"
    finally:
        consumer.close()
        producer.flush(5)

"""librdkafka's group metadata, as a real consumer hands it over, reads as expected.

consumer.group_fencing parses librdkafka's serialisation; a librdkafka upgrade that changed
it would turn the zombie guard off (a warning, `None`). This pins the format."""

from __future__ import annotations

from typing import Any

import gevent
from confluent_kafka import Consumer

from consumer.group_fencing import in_generation
from tests.integration.consumer_helpers import wait_for


def test_a_consumer_is_in_a_generation_only_while_it_is_a_group_member(
    kafka_config: dict[str, str], kafka_topics: Any, group_id: str
) -> None:
    topic = kafka_topics("requests", partitions=1)["requests"]
    assigned: list[Any] = []
    consumer = Consumer({**kafka_config, "group.id": group_id})
    try:
        assert in_generation(consumer.consumer_group_metadata()) is False  # not joined yet
        consumer.subscribe([topic], on_assign=lambda _c, parts: assigned.extend(parts))

        def joined() -> bool:
            consumer.consume(10, timeout=0)
            return bool(assigned)

        wait_for(joined, 30, "the group join")
        assert in_generation(consumer.consumer_group_metadata()) is True
        consumer.unsubscribe()
        wait_for(
            lambda: consumer.consume(10, timeout=0) == [] and not consumer.assignment(),
            30,
            "leaving the group",
        )
        gevent.sleep(0.5)
        assert in_generation(consumer.consumer_group_metadata()) is False
    finally:
        consumer.close()

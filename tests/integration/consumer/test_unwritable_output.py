"""An output the broker can never take stops the consumer: no abort/rewind loop.

A dead-letter topic missing at start-up is refused before the consumer joins (tests/secured
covers that). Here it is deleted once the consumer runs (the test broker does not create
topics), so the first bad request's dead letter fails as an unknown topic once librdkafka
stops waiting
for the topic to appear (`topic.metadata.propagation.max.ms`, 30 s by default). Until
then its deliveries time out (in these tests after 10 s, the transaction timeout), which a
broker outage does too: those are retried.
"""

from __future__ import annotations

import gevent
import pytest
from confluent_kafka.admin import AdminClient

from tests.integration.consumer_helpers import RigFactory


@pytest.mark.timeout(120)
# exactly_once is not here: with the topic deleted under a running transactional producer,
# librdkafka reports only timed-out messages, and the checkpoint aborts and rewinds every
# transaction timeout without ever seeing the topic as unknown (still open, issue 16).
@pytest.mark.parametrize("guarantee", ["at_least_once"])
def test_a_missing_dead_letter_topic_stops_the_consumer_with_one_clear_error(
    consumer_rig: RigFactory, guarantee: str
) -> None:
    rig = consumer_rig()
    missing = rig.topics["dlq"]
    env = rig.env(UPLOAD_STREAM_PROCESSING_GUARANTEE=guarantee)
    consumer = rig.start(env, "unwritable")
    consumer.wait_assigned()
    admin = AdminClient({"bootstrap.servers": rig.bootstrap})
    admin.delete_topics([missing], operation_timeout=10)[missing].result(timeout=15)
    rig.publish([(b"u", b"not json", None)])
    with gevent.Timeout(90, AssertionError("the consumer did not stop")):
        while consumer.proc.poll() is None:
            gevent.sleep(0.2)
    assert consumer.stop() == 1
    lines = consumer.log_lines()
    (fatal,) = [
        line["msg"]
        for line in lines
        if line.get("logger") == "consumer.app" and line.get("level") == "ERROR"
    ]
    assert f"cannot write to topic '{missing}': " in fatal
    assert "UNKNOWN_TOPIC" in fatal  # _UNKNOWN_TOPIC or UNKNOWN_TOPIC_OR_PART
    # Bounded: only the timed-out attempts of the first 30 s were redone, then it stopped.
    aborts = [line for line in lines if "aborting transaction" in line.get("msg", "")]
    retries = [line for line in lines if "producing it again" in line.get("msg", "")]
    assert len(aborts) + len(retries) <= 4

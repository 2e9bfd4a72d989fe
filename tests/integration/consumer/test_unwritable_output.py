"""An output the broker can never take stops the consumer: no abort/rewind loop.

A dead-letter topic missing at start-up is refused before the consumer joins (tests/secured
covers that). Here a topic is deleted once the consumer runs (the test broker does not
create topics).

at_least_once: the first bad request's dead letter fails as an unknown topic once
librdkafka stops waiting for the topic to appear (`topic.metadata.propagation.max.ms`,
30 s by default). Until then its deliveries time out (in these tests after 10 s, the
transaction timeout), which a broker outage does too: those are retried.

exactly_once: librdkafka only says the transaction's records timed out; the checkpoint
then asks the topic's metadata, and stops on "unknown topic" after one abort.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import gevent
import pytest
from confluent_kafka.admin import AdminClient

from tests.integration.consumer_helpers import (
    ConsumerProcess,
    RigFactory,
    encode,
    request,
    stage,
    wait_for,
)
from upload_stream_cli.devstack.ports import free_port


def _readyz(port: int) -> int | None:
    """/readyz's status, or None once nothing answers (the process is gone)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


def _readiness_until_exit(consumer: ConsumerProcess, port: int, timeout_s: float) -> list[int]:
    """/readyz every 0.2 s until the consumer exits: the statuses answered while it ran."""
    statuses: list[int] = []
    with gevent.Timeout(timeout_s, AssertionError("the consumer did not stop")):
        while consumer.proc.poll() is None:
            status = _readyz(port)
            if status is not None and consumer.proc.poll() is None:
                statuses.append(status)
            gevent.sleep(0.2)
    return statuses


@pytest.mark.timeout(120)
def test_at_least_once_with_the_dead_letter_topic_deleted_stops_with_one_clear_error(
    consumer_rig: RigFactory,
) -> None:
    rig = consumer_rig()
    missing = rig.topics["dlq"]
    port = free_port()
    env = rig.env(
        UPLOAD_STREAM_PROCESSING_GUARANTEE="at_least_once", UPLOAD_STREAM_METRICS_PORT=str(port)
    )
    consumer = rig.start(env, "unwritable")
    consumer.wait_assigned()
    wait_for(lambda: _readyz(port) == 200, 20, "/readyz 200")
    admin = AdminClient({"bootstrap.servers": rig.bootstrap})
    admin.delete_topics([missing], operation_timeout=10)[missing].result(timeout=15)
    rig.publish([(b"u", b"not json", None)])
    statuses = _readiness_until_exit(consumer, port, 90)
    assert consumer.stop() == 1
    # Unready while the dead letter waited for its acknowledgement, before it exited.
    assert 503 in statuses, statuses
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


@pytest.mark.timeout(150)
@pytest.mark.parametrize("role", ["dlq", "results"])
def test_exactly_once_with_an_output_topic_deleted_stops_with_one_clear_error(
    consumer_rig: RigFactory, role: str
) -> None:
    """librdkafka reports only timed-out records for a topic deleted under a transactional
    producer; the checkpoint asks the topic's metadata when a transaction fails, and stops
    on the answer instead of aborting, rewinding and uploading again."""
    rig = consumer_rig()
    missing = rig.topics[role]
    port = free_port()
    env = rig.env(
        UPLOAD_STREAM_PROCESSING_GUARANTEE="exactly_once",
        UPLOAD_STREAM_METRICS_PORT=str(port),
    )
    consumer = rig.start(env, f"eos-{role}-deleted")
    consumer.wait_assigned()
    wait_for(lambda: _readyz(port) == 200, 20, "/readyz 200")
    admin = AdminClient({"bootstrap.servers": rig.bootstrap})
    admin.delete_topics([missing], operation_timeout=10)[missing].result(timeout=15)
    if role == "dlq":
        rig.publish([(b"u", b"not json", None)])
    else:
        files = {"doc": stage(rig.staging, b"%PDF-1.7 eos", "doc.pdf", "application/pdf")}
        rig.publish([(b"u", encode(request("eos-1", "u", files)), None)])
    published = time.monotonic()
    statuses = _readiness_until_exit(consumer, port, 120)
    seconds = time.monotonic() - published
    assert consumer.stop() == 1
    lines = consumer.log_lines()
    (fatal,) = [
        line["msg"]
        for line in lines
        if line.get("logger") == "consumer.app" and line.get("level") == "ERROR"
    ]
    assert f"cannot write to topic '{missing}': " in fatal
    assert "UNKNOWN_TOPIC" in fatal
    # Unready while it could not commit, before it exited.
    assert 503 in statuses, statuses
    # Bounded: one failed transaction (the transaction timeout, 10 s here), then the exit.
    assert seconds < 45
    aborts = [line for line in lines if "aborting transaction" in line.get("msg", "")]
    assert len(aborts) <= 1
    if role == "dlq":
        handled = [line for line in lines if line.get("code") == "invalid_json"]
    else:
        handled = [
            line
            for line in lines
            if line.get("request_id") == "eos-1" and "uploaded" in line.get("msg", "")
        ]
    assert len(handled) == 1, handled

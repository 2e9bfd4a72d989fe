"""Broker faults: the only Kafka broker goes away for 20 s in the middle of a stream.

Once the broker is back, every request has exactly one committed result (read_committed)
and every object its sha256, and the consumer got there by itself: the same process,
never restarted. After such an outage librdkafka's `send_offsets_to_transaction` can
block for good (librdkafka #5456); the consumer notices (a deadline past the call's own
timeout), replaces its producer under the same transactional.id and rewinds to the
committed offsets. The row's notes say how many times that happened in this run.
The broker is shared by the whole session, so it is started again whatever happens.
"""

from __future__ import annotations

import time
from typing import Any

import gevent
import pytest

from tests.conftest import unique
from tests.integration.consumer_helpers import RigFactory, wait_for
from tests.reliability.harness import Publisher, TimedReader, audit, simple_requests
from tests.reliability.report import SCOREBOARD, Row

SEED = 4242
COUNT = 300
RATE_PER_S = 10.0  # 30 s of publishing...
OUTAGE_AT_S = 6.0  # ...with the broker down from here...
OUTAGE_S = 20.0  # ...for this long (a deliberate sleep: the outage itself)


@pytest.mark.timeout(300)
def test_broker_down_for_20_s_mid_stream_loses_and_duplicates_nothing(
    local_broker: Any, consumer_rig: RigFactory, s3: Any
) -> None:
    rig = consumer_rig()
    topics = rig.topics
    records, expected = simple_requests(rig.staging, COUNT, seed=SEED, prefix="brk")
    env = rig.env(UPLOAD_STREAM_TRANSACTIONAL_ID=unique("txn-brk"))
    row = SCOREBOARD.add(Row("broker outage", faults=f"broker stopped {OUTAGE_S:.0f} s"))
    consumer = rig.start(env, "brk")
    consumer.wait_assigned()
    publisher = Publisher(rig.bootstrap, topics["requests"])
    reader = rig.reader("results", "dlq", cls=TimedReader)
    items = [(f"brk-{i:05d}", key, value) for i, (key, value, _) in enumerate(records)]
    feeding = gevent.spawn(publisher.paced, items, RATE_PER_S)
    restored_at = None
    try:
        started = time.monotonic()
        wait_for(lambda: time.monotonic() - started >= OUTAGE_AT_S, OUTAGE_AT_S + 5, "t0")
        reader.poll(0.5)
        before = reader.distinct(topics["results"])
        local_broker.stop()
        row.faults_injected = 1
        gevent.sleep(OUTAGE_S)  # the outage (deliberate)
        local_broker.start()
        restored_at = time.monotonic()
        feeding.get(timeout=60)
        publisher.flush(60)

        def done() -> bool:
            exited = consumer.proc.poll()
            assert exited is None, f"the consumer exited ({exited}) instead of recovering"
            return reader.distinct(topics["results"]) >= COUNT

        reader.wait(lambda _: done(), 150, "all results")
        recovered_s = time.monotonic() - restored_at
        reader.poll(1.0)
        replaced = sum(
            "transactional producer wedged" in line.get("msg", "") for line in consumer.log_lines()
        )
        found = audit(reader.of(topics["results"]), expected, s3, rig.bucket)
        row.sent, row.committed, row.duplicates = COUNT, found.committed, found.duplicates
        row.missing, row.corrupt = found.missing, found.corrupt
        row.notes = (
            f"{before} results before the stop; all {COUNT} within "
            f"{recovered_s:.0f} s of the broker restart, same process; wedged producers "
            f"replaced in-process: {replaced} (librdkafka #5456)"
        )
        assert 0 < before < COUNT
        assert reader.of(topics["dlq"]) == []
        assert found.clean, found
        assert consumer.stop() == 0
    finally:
        feeding.kill()
        if not local_broker.running:
            local_broker.start()

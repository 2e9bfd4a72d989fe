"""Does `fetch.wait.max.ms` delay a record that arrives while a fetch waits?

`python -m bench.fetch_wait_probe` (broker: `KAFKA_BOOTSTRAP_SERVERS`, else a local one)
prints, per wait and per kind of producer, the time from `produce` to the record in a
`read_committed` reader: idempotent (requests, as producers publish them) and transactional
(results, as the consumer commits them). It is the evidence behind one shared
`UPLOAD_STREAM_FETCH_WAIT_MAX_MS` for the consumer and the reply router.
"""

from __future__ import annotations

import statistics
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from bench.local_kafka import kafka

WAITS_MS = (20, 100, 500)
SAMPLES = 30
PARTITIONS = 3


def new_topic(bootstrap: str) -> str:
    name = f"fetch-wait-probe-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, PARTITIONS, 1)])[name].result()
    time.sleep(1.0)  # leaders elected
    return name


def latencies_ms(bootstrap: str, wait_ms: int, *, transactional: bool) -> list[float]:
    topic = new_topic(bootstrap)
    reader = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"fetch-wait-probe-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": wait_ms,
        }
    )
    reader.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    config = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 0}
    if transactional:
        config["transactional.id"] = f"fetch-wait-probe-{uuid.uuid4().hex}"
    producer = Producer(config)
    if transactional:
        producer.init_transactions()
    warm_until = time.monotonic() + 3.0  # fetches are waiting on the broker from here on
    while time.monotonic() < warm_until:
        reader.poll(0.1)
    found = []
    for i in range(SAMPLES):
        start = time.monotonic()
        if transactional:
            producer.begin_transaction()
        producer.produce(topic, key=str(i).encode(), value=b"x")
        if transactional:
            producer.commit_transaction()
        else:
            producer.flush()
        while True:
            message = reader.poll(0.005)
            if message is not None and message.error() is None:
                found.append((time.monotonic() - start) * 1000)
                break
        time.sleep(0.13 + (i % 5) * 0.037)  # land at different points of a waiting fetch
    reader.close()
    return found


def main() -> None:
    with kafka() as bootstrap:
        print("produce -> read_committed reader, by fetch.wait.max.ms (ms)")
        print("| producer | fetch.wait.max.ms | p50 | max |")
        print("|---|---:|---:|---:|")
        for transactional in (False, True):
            kind = "transactional" if transactional else "idempotent"
            for wait_ms in WAITS_MS:
                found = latencies_ms(bootstrap, wait_ms, transactional=transactional)
                p50, worst = statistics.median(found), max(found)
                print(f"| {kind} | {wait_ms} | {p50:.1f} | {worst:.1f} |", flush=True)


if __name__ == "__main__":
    main()

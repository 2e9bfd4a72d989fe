"""What one exactly-once checkpoint costs on the wire, apart from the consumer around it.

`python -m bench.txn_probe [SAMPLES]` (broker: `KAFKA_BOOTSTRAP_SERVERS`, else a local
one) repeats, one at a time, what a lone request's result goes through in
`consumer.checkpoint.Checkpoint._transaction` (begin, produce the result,
`send_offsets_to_transaction`, `commit_transaction`) until a `read_committed` reader sees
it, and, for contrast, an idempotent produce (a request, or an at-least-once result) until
the same reader sees that. Each call is timed. It also runs the checkpoint's calls with the
offsets sent before the produce, alternating with the consumer's order sample by sample:
librdkafka (transactions v1) sends AddPartitionsToTxn for the produce and AddOffsetsToTxn +
TxnOffsetCommit for the offsets; in the consumer's order they overlap.

It measures, on a warmed broker (`warm_transactions` runs first), what the wire costs a
lone exactly-once request over an at-least-once one before the consumer adds anything:
with v1 the coordinator needs those round trips, then EndTxn and the markers.
Transactions v2 (KIP-890) drop the AddPartitionsToTxn and AddOffsetsToTxn round trips;
librdkafka does not speak it yet.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from bench.local_kafka import kafka

PARTITIONS = 4
WARMUP = 5
WARM_TRANSACTIONS = 1500  # the broker's transaction path warmed first (warm_transactions)
RESULT = b"r" * 600  # about a result's size
REQUEST = b"q" * 300


def new_topics(bootstrap: str, count: int) -> list[str]:
    names = [f"txn-probe-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names]).values():
        future.result()
    time.sleep(1.0)  # leaders elected
    return names


@dataclass
class Rig:
    """One transactional producer with its group member, an idempotent producer, and a
    read_committed reader of both topics."""

    requests: str
    results: str
    member: Consumer
    txn: Producer
    idempotent: Producer
    reader: Consumer
    offsets_first: bool
    offset: int = 0

    @classmethod
    def make(cls, bootstrap: str, *, offsets_first: bool) -> Rig:
        requests, results = new_topics(bootstrap, 2)
        base = {"bootstrap.servers": bootstrap}
        member = Consumer({**base, "group.id": f"txn-probe-{uuid.uuid4().hex}"})
        member.assign([TopicPartition(requests, p, 0) for p in range(PARTITIONS)])
        txn = Producer(
            {**base, "linger.ms": 0, "transactional.id": f"txn-probe-{uuid.uuid4().hex}"}
        )
        txn.init_transactions()
        idempotent = Producer({**base, "enable.idempotence": True, "linger.ms": 0})
        reader = Consumer(
            {
                **base,
                "group.id": f"txn-probe-reader-{uuid.uuid4().hex}",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 100,
            }
        )
        reader.assign(
            [TopicPartition(t, p, 0) for t in (requests, results) for p in range(PARTITIONS)]
        )
        settle = time.monotonic() + 3.0  # fetches are waiting on the broker from here on
        while time.monotonic() < settle:
            reader.poll(0.05)
            member.poll(0.01)
        return cls(requests, results, member, txn, idempotent, reader, offsets_first)

    def seen(self, topic: str) -> float:
        while True:
            message: Message | None = self.reader.poll(0.002)
            if message is not None and message.error() is None and message.topic() == topic:
                return time.monotonic()

    def sample(self, key: bytes) -> dict[str, float]:
        started = time.monotonic()
        self.idempotent.produce(self.requests, key=key, value=REQUEST)
        self.idempotent.flush()
        acked = time.monotonic()
        visible = self.seen(self.requests)

        begun = time.monotonic()
        self.txn.begin_transaction()
        self.offset += 1
        offsets = [TopicPartition(self.requests, self.offset % PARTITIONS, self.offset)]

        def send_offsets() -> None:
            self.txn.send_offsets_to_transaction(offsets, self.member.consumer_group_metadata())

        def produce() -> None:
            self.txn.produce(self.results, key=key, value=RESULT)

        first, second = (send_offsets, produce) if self.offsets_first else (produce, send_offsets)
        first()
        second()
        sent = time.monotonic()
        self.txn.commit_transaction()
        committed = time.monotonic()
        txn_visible = self.seen(self.results)
        return {
            "idempotent: produce -> acknowledged": acked - started,
            "idempotent: produce -> visible": visible - started,
            "transaction: begin .. send_offsets returns": sent - begun,
            "transaction: commit_transaction": committed - sent,
            "transaction: begin -> visible": txn_visible - begun,
        }

    def close(self) -> None:
        self.reader.close()
        self.member.close()
        self.idempotent.flush(5)
        self.txn.flush(5)


def warm_transactions(bootstrap: str, count: int) -> float:
    """Run `count` checkpoint-shaped transactions (begin, produce, send offsets, commit)
    back to back; returns the seconds taken. A broker's transaction path runs slower for its
    first few hundred transactions (the dev stack's JVM compiles with C1 as code gets hot):
    a lone exactly-once request measured +13 ms over the engine in a run's first row, +9 in
    its fourth. The e2e benchmark warms the broker with this first, as a broker in service
    would be."""
    requests, results = new_topics(bootstrap, 2)
    member = Consumer({"bootstrap.servers": bootstrap, "group.id": f"warm-{uuid.uuid4().hex}"})
    txn = Producer(
        {
            "bootstrap.servers": bootstrap,
            "transactional.id": f"warm-{uuid.uuid4().hex}",
            # Back to back, each begin finds the last still completing on the coordinator
            # (CONCURRENT_TRANSACTIONS): at the default 100 ms retry backoff, 1,500 took 148 s.
            "retry.backoff.ms": 5,
        }
    )
    started = time.monotonic()
    try:
        txn.init_transactions()
        for i in range(count):
            txn.begin_transaction()
            txn.produce(results, key=str(i).encode(), value=RESULT)
            offsets = [TopicPartition(requests, i % PARTITIONS, i + 1)]
            txn.send_offsets_to_transaction(offsets, member.consumer_group_metadata())
            txn.commit_transaction()
    finally:
        txn.flush(5)
        member.close()
    return time.monotonic() - started


def main(samples: int) -> None:
    with kafka() as bootstrap:
        warm_transactions(bootstrap, WARM_TRANSACTIONS)
        rigs = {
            "the consumer's order (produce, then offsets)": Rig.make(
                bootstrap, offsets_first=False
            ),
            "offsets, then produce": Rig.make(bootstrap, offsets_first=True),
        }
        for i in range(WARMUP):
            for rig in rigs.values():
                rig.sample(f"w{i}".encode())
        found: dict[str, list[dict[str, float]]] = {name: [] for name in rigs}
        for i in range(samples):  # alternating, so drift weighs on both alike
            order = list(rigs.items())
            for name, rig in order if i % 2 == 0 else reversed(order):
                found[name].append(rig.sample(str(i).encode()))
                time.sleep(0.02)
        for rig in rigs.values():
            rig.close()
    print(f"one at a time, {samples} samples each, alternating; ms, p50 / p90")
    for name, rows in found.items():
        print(f"\n  {name}:")
        for stage in rows[0]:
            values = sorted(r[stage] * 1000 for r in rows)
            p90 = values[int(len(values) * 0.9) - 1]
            print(f"    {stage:<44} {statistics.median(values):6.2f} / {p90:6.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60)

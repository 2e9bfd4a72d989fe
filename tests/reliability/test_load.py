"""Load: a sustained, paced stream of small one-file requests through one consumer.

Reports files/s, publish -> committed-result latency (p50/p99/max, as a read_committed
reader sees it), and the consumer's peak RSS. RSS is sampled every second from
/proc/PID/status; it must stay flat: the mean of the last quarter of the samples may
exceed the mean of the second quarter by at most RSS_GROWTH_MIB + RSS_GROWTH_FRACTION.
Payloads are small because moto keeps every object in memory (its RSS is not measured).
"""

from __future__ import annotations

import time
from typing import Any

import gevent
import pytest

from tests.conftest import unique
from tests.integration.consumer_helpers import RigFactory
from tests.reliability.harness import (
    Publisher,
    RssSampler,
    TimedReader,
    audit,
    percentile,
    simple_requests,
)
from tests.reliability.report import SCOREBOARD, Load, Row

SEED = 777
RSS_GROWTH_MIB = 16.0
RSS_GROWTH_FRACTION = 0.15
P99_BOUND_S = 10.0


@pytest.mark.parametrize(
    ("count", "rate"),
    [
        pytest.param(1500, 150.0, id="1500-requests", marks=pytest.mark.timeout(180)),
        pytest.param(
            10_000, 100.0, id="10000-requests", marks=[pytest.mark.soak, pytest.mark.timeout(900)]
        ),
    ],
)
def test_sustained_load_keeps_latency_bounded_and_memory_flat(
    count: int, rate: float, consumer_rig: RigFactory, s3: Any
) -> None:
    rig = consumer_rig()
    topics = rig.topics
    records, expected = simple_requests(
        rig.staging, count, seed=SEED, prefix="load", users=101, size=512
    )
    env = rig.env(UPLOAD_STREAM_TRANSACTIONAL_ID=unique("txn-load"))
    consumer = rig.start(env, "load")
    consumer.wait_assigned()
    reader = rig.reader("results", "dlq", cls=TimedReader)
    publisher = Publisher(rig.bootstrap, topics["requests"])
    row = SCOREBOARD.add(Row(f"load ({count} requests)", faults="none"))
    sampler = RssSampler(consumer.proc.pid, 1.0)
    items = [(f"load-{i:05d}", key, value) for i, (key, value, _) in enumerate(records)]
    try:
        start = time.monotonic()
        feeding = gevent.spawn(publisher.paced, items, rate)
        reader.wait(
            lambda _: reader.distinct(topics["results"]) >= count,
            count / rate + 120,
            "every result",
        )
        end = time.monotonic()
        feeding.get(timeout=10)
        publisher.flush(30)
        sampler.stop()
        seen = reader.first_seen(topics["results"])
        latencies = [seen[rid] - publisher.sent_at[rid] for rid in expected.files]
        found = audit(reader.of(topics["results"]), expected, s3, rig.bucket)
        q2, q4 = sampler.quarter_means_mib()
        bound = q2 + max(RSS_GROWTH_MIB, RSS_GROWTH_FRACTION * q2)
        seconds = end - start
        row.sent, row.committed, row.duplicates = count, found.committed, found.duplicates
        row.missing, row.corrupt = found.missing, found.corrupt
        SCOREBOARD.add_load(
            Load(
                test=f"{count} x 512 B, paced {rate:.0f}/s",
                requests=count,
                files=count,
                seconds=seconds,
                files_per_s=count / seconds,
                p50_ms=1000 * percentile(latencies, 50),
                p99_ms=1000 * percentile(latencies, 99),
                max_ms=1000 * max(latencies),
                rss_peak_mib=sampler.peak_mib,
                rss_q2_mib=q2,
                rss_q4_mib=q4,
                rss_bound=f"Q4 <= {bound:.1f}",
                notes=f"{len(sampler.samples)} RSS samples (1/s); 1 consumer, EOS",
            )
        )
        assert found.clean, found
        assert q4 <= bound, (q2, q4, sampler.samples)
        assert percentile(latencies, 99) < P99_BOUND_S
        assert consumer.stop() == 0
    finally:
        sampler.stop()

"""Process faults: `kill -9` of consumers at random moments over a stream of requests.

Two consumer slots share the group; each has a stable transactional.id, so a restarted
slot fences its killed predecessor and the broker aborts its open transaction at once.
The kill moments are seeded: after a random number of committed results, a random slot is
killed and started again straight away. At the end every request has exactly one
committed result (read_committed) and every object its sha256.
"""

from __future__ import annotations

import random
from typing import Any

import gevent
import pytest

from tests.conftest import unique
from tests.integration.consumer_helpers import RigFactory
from tests.reliability.harness import Publisher, TimedReader, audit, simple_requests
from tests.reliability.report import SCOREBOARD, Row

SEED = 99
SLOTS = 2


@pytest.mark.parametrize(
    ("count", "kills", "rate"),
    [
        pytest.param(1000, 5, 100.0, id="1000-requests", marks=pytest.mark.timeout(300)),
        pytest.param(
            5000, 20, 80.0, id="5000-requests", marks=[pytest.mark.soak, pytest.mark.timeout(900)]
        ),
    ],
)
def test_repeated_kill_9_of_two_consumers_loses_and_duplicates_nothing(
    count: int, kills: int, rate: float, consumer_rig: RigFactory, s3: Any
) -> None:
    rng = random.Random(SEED)
    rig = consumer_rig()
    topics = rig.topics
    records, expected = simple_requests(rig.staging, count, seed=SEED, prefix="k9")
    txn = unique("txn-k9")
    envs = [
        rig.env(
            UPLOAD_STREAM_TRANSACTIONAL_ID=f"{txn}-slot{slot}",
            UPLOAD_STREAM_MAX_IN_FLIGHT_REQUESTS="16",
        )
        for slot in range(SLOTS)
    ]
    running = [rig.start(envs[slot], f"slot{slot}") for slot in range(SLOTS)]
    row = SCOREBOARD.add(Row(f"kill -9 ({count} requests)", faults=f"kill -9, {SLOTS} slots"))
    reader = rig.reader("results", "dlq", cls=TimedReader)
    publisher = Publisher(rig.bootstrap, topics["requests"])
    items = [(f"k9-{i:05d}", key, value) for i, (key, value, _) in enumerate(records)]
    feeding = gevent.spawn(publisher.paced, items, rate)
    # Kill after these numbers of distinct committed results (seeded), spread over the run.
    thresholds = sorted(rng.sample(range(count // 20, count * 9 // 10), kills))
    killed = 0
    try:

        def step() -> bool:
            nonlocal killed
            seen = reader.distinct(topics["results"])
            while killed < kills and seen >= thresholds[killed]:
                slot = rng.randrange(SLOTS)
                running[slot].kill()
                assert running[slot].proc.returncode == -9
                running[slot] = rig.start(envs[slot], f"slot{slot}")
                killed += 1
            for slot, process in enumerate(running):  # a fatal exit is restarted too
                if process.proc.poll() is not None:
                    assert process.proc.returncode == 1, process.proc.returncode
                    running[slot] = rig.start(envs[slot], f"slot{slot}")
            return seen >= count

        reader.wait(lambda _: step(), 280 if count <= 1000 else 880, "every result")
        feeding.get(timeout=10)
        publisher.flush(30)
        reader.poll(1.0)  # anything committed late would show up now
        found = audit(reader.of(topics["results"]), expected, s3, rig.bucket)
        row.faults_injected = killed
        row.sent, row.committed, row.duplicates = count, found.committed, found.duplicates
        row.missing, row.corrupt = found.missing, found.corrupt
        row.notes = f"{killed} kills at results {thresholds}"
        assert killed == kills
        assert reader.of(topics["dlq"]) == []
        assert found.clean, found
        for process in running:
            assert process.stop() == 0
    finally:
        feeding.kill()

"""An upload longer than max.poll.interval.ms: the consumer pauses its partitions, keeps
polling, and is not evicted from the group."""

from __future__ import annotations

import logging
import time

import gevent
import pytest

from tests.integration.consumer_helpers import RigFactory, encode, request, stage, wait_for
from upload_engine import UploadEngine, UploadJob, UploadOutcome

SLOW_S = 8.0  # > max.poll.interval.ms below


class HubTicker:
    """A greenlet ticking every 10 ms; the longest gap is how long the hub was frozen."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.greenlet = gevent.spawn(self._tick)

    def _tick(self) -> None:
        last = time.monotonic()
        while True:
            gevent.sleep(0.01)
            now = time.monotonic()
            self.longest = max(self.longest, now - last - 0.01)
            last = now


class SlowEngine:
    """The real engine, with a delay before requests whose id starts with `slow-`."""

    def __init__(self, inner: UploadEngine) -> None:
        self.inner = inner

    def upload(self, job: UploadJob) -> UploadOutcome:
        if job.request_id.startswith("slow-"):
            gevent.sleep(SLOW_S)
        return self.inner.upload(job)

    def close(self) -> None:
        self.inner.close()


def test_upload_longer_than_max_poll_interval_is_not_evicted(
    consumer_rig: RigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="consumer.loop")
    rig = consumer_rig(partitions=1)
    env = rig.env(
        UPLOAD_STREAM_MAX_POLL_INTERVAL_MS="6000",
        UPLOAD_STREAM_SESSION_TIMEOUT_MS="6000",
        UPLOAD_STREAM_MAX_IN_FLIGHT_REQUESTS="1",
    )
    consumer = rig.start_in_process(env, wrap=SlowEngine)
    reader = rig.reader("results")
    ticker = HubTicker()  # after the imports and client set-up above, which are CPU-bound
    try:
        ids = ["slow-1", "fast-1", "fast-2", "fast-3"]
        started = time.monotonic()
        rig.publish(
            [
                (b"7", encode(request(rid, "7", {"doc": stage(rig.staging, rid.encode())})), None)
                for rid in ids
            ]
        )
        paused = consumer.metrics.registry
        wait_for(
            lambda: (paused.get_sample_value("upload_stream_paused_partitions") or 0) == 1,
            20,
            "the partition paused while the slow upload runs",
        )
        reader.wait(lambda rs: len(rs) >= len(ids), 40, "all four results")
        reader.poll(1.0)
        results = {r.json()["request_id"]: r.json() for r in reader.records}
        assert len(reader.records) == len(ids)
        assert sorted(results) == sorted(ids)
        assert {r["status"] for r in results.values()} == {"succeeded"}
        assert time.monotonic() - started >= SLOW_S  # the fast ones waited for the slot
        assert paused.get_sample_value("upload_stream_paused_partitions") == 0
        # Polling, pausing and transactions never froze the hub (a blocking poll: ~1 s).
        print(f"longest hub stall: {ticker.longest * 1000:.1f} ms")
        assert ticker.longest < 0.2, f"hub stalled {ticker.longest * 1000:.0f} ms"
    finally:
        assert consumer.stop() == 0
        ticker.greenlet.kill()
    # One assignment, revoked only by our stop: never evicted while the upload ran.
    events = [r.getMessage().split(" ")[0] for r in caplog.records if r.name == "consumer.loop"]
    assert [e for e in events if e in ("assigned", "revoked", "lost")] == ["assigned", "revoked"]

"""The scheduler's slots (upload_engine/scheduling.py): a caller's `gevent.Timeout` around a
direct-mode upload must give back every global slot, so a full `max_concurrency` of files
can be in flight at once afterwards."""

from __future__ import annotations

import gc
import io
from collections.abc import Iterator
from typing import Any

import gevent
import pytest

from producer_lib import AWSService
from producer_lib.direct import DirectTransport
from tests.unit.scripted_s3 import Received, Reply, ScriptedS3, ok
from upload_engine import UploadEngine
from upload_engine.settings import EngineSettings

MAX_CONCURRENCY = 64
CUT_LATENCY_S = 0.1
# Long enough that all 64 files are sent before the first answer, even on a loaded machine.
FULL_LATENCY_S = 1.0


class SlowS3:
    """Answers every request after `latency_s`; `peak` is the most requests in flight at once."""

    def __init__(self) -> None:
        self.latency_s = CUT_LATENCY_S
        self.in_flight = 0
        self.peak = 0

    def __call__(self, request: Received) -> Reply:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            gevent.sleep(self.latency_s)
        finally:
            self.in_flight -= 1
        return ok(request)

    def wait_idle(self) -> None:
        """Requests of the killed upload are still served after their clients went away."""
        with gevent.Timeout(5):
            while self.in_flight:
                gevent.sleep(0.01)


@pytest.fixture
def slow() -> SlowS3:
    return SlowS3()


@pytest.fixture
def service(slow: SlowS3, monkeypatch: pytest.MonkeyPatch) -> Iterator[AWSService]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "slot-test",
        "AWS_SECRET_ACCESS_KEY": "slot-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    server = ScriptedS3(slow)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
    settings = EngineSettings(
        max_concurrency=MAX_CONCURRENCY, staging_allowlist=[], s3_addressing_style="path"
    )
    engine = UploadEngine(settings)
    try:
        yield AWSService("slots", settings=settings, transport=DirectTransport(engine))
    finally:
        engine.close()
        slow.wait_idle()
        server.stop()


def files(prefix: str, count: int) -> dict[str, Any]:
    return {f"{prefix}{i}": io.BytesIO(b"%s-%d" % (prefix.encode(), i)) for i in range(count)}


def all_at_once(service: AWSService, slow: SlowS3, prefix: str) -> None:
    """A full max_concurrency of files, every one in flight at the same time."""
    slow.wait_idle()
    slow.peak = 0
    slow.latency_s = FULL_LATENCY_S
    with gevent.Timeout(20):
        urls = service.upload_files_concurrently(
            1, files(prefix, MAX_CONCURRENCY), "slots", max_workers=MAX_CONCURRENCY
        )
    slow.latency_s = CUT_LATENCY_S
    assert len(urls) == MAX_CONCURRENCY
    assert slow.peak == MAX_CONCURRENCY


# Requests killed mid-flight leave sockets for the GC to close (urllib3 does not close a
# connection interrupted by a BaseException such as GreenletExit); that is not under test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_timeout_mid_upload_gives_every_slot_back(service: AWSService, slow: SlowS3) -> None:
    all_at_once(service, slow, "warm")
    # 200 files at 64 at a time and 0.1 s per request take about 0.4 s; each run is cut
    # short at a different point: while the first files start, and between two rounds.
    for n, timeout_s in enumerate((0.01, 0.05, 0.15, 0.25)):
        with pytest.raises(gevent.Timeout), gevent.Timeout(timeout_s):
            service.upload_files_concurrently(
                1, files(f"cut{n}-", 200), "slots", max_workers=MAX_CONCURRENCY
            )
    all_at_once(service, slow, "after")
    gc.collect()

"""`upload_engine.offload.offload`: in place when unpatched, in the threadpool when patched,
exceptions as values, and a deadline that leaves a stuck call running in its thread.

The test process is patched (tests/conftest.py); an unpatched process is simulated by
making `process_is_patched` answer False, as it does in Django's test runner, to the
test's own greenlet only: a greenlet another test left running (a reply router polling)
would otherwise run its blocking call in place and stall the hub.
"""

from __future__ import annotations

import threading

import gevent
import gevent.monkey
import pytest

from consumer.errors import FatalKafkaError
from consumer.errors import StuckCallError as KafkaStuckCallError
from upload_engine import offload as offload_module
from upload_engine.errors import EngineError, StuckCallError
from upload_engine.offload import offload

# The OS thread's id and a real blocking sleep/event, as librdkafka's C calls block.
os_thread_id = gevent.monkey.get_original("threading", "get_ident")
os_sleep = gevent.monkey.get_original("time", "sleep")
OsEvent = gevent.monkey.get_original("threading", "Event")


class Refused(Exception):
    pass


def refuse() -> None:
    raise Refused("no")


def simulate(monkeypatch: pytest.MonkeyPatch, patched: bool) -> None:
    test = gevent.getcurrent()
    monkeypatch.setattr(
        offload_module, "process_is_patched", lambda: patched or gevent.getcurrent() is not test
    )


@pytest.fixture
def unpatched(monkeypatch: pytest.MonkeyPatch) -> None:
    simulate(monkeypatch, False)


def test_patched_the_call_runs_in_another_os_thread_and_the_hub_keeps_running() -> None:
    ticks: list[int] = []

    def tick() -> None:
        while True:
            ticks.append(1)
            gevent.sleep(0.005)

    ticker = gevent.spawn(tick)
    try:
        gevent.sleep(0)
        ran_in = offload(lambda s: (os_sleep(s), os_thread_id())[1], 0.2)
    finally:
        ticker.kill()
    assert ran_in != os_thread_id()
    # ~40 ticks in 0.2 s; a call blocking the hub would have allowed one.
    assert len(ticks) > 5


def test_unpatched_the_call_runs_in_place(unpatched: None) -> None:
    assert offload(lambda a, b: (a + b, os_thread_id()), 1, 2) == (3, os_thread_id())


@pytest.mark.parametrize("patched", [True, False])
def test_the_exception_reaches_the_caller_and_is_not_printed(
    patched: bool, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    simulate(monkeypatch, patched)
    with pytest.raises(Refused, match="no"):
        offload(refuse)
    gevent.sleep(0.05)  # gevent's hub prints a thread's traceback on its next turn
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("patched", [True, False])
def test_past_the_deadline_the_call_is_left_running_in_its_thread(
    patched: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unpatched too: only a thread can be walked away from.
    simulate(monkeypatch, patched)
    release = OsEvent()

    def wedged() -> str:
        release.wait(10)
        return "returned"

    with pytest.raises(StuckCallError, match=r"^wedged did not return within 0.05 s$") as stuck:
        offload(wedged, deadline_s=0.05)
    assert isinstance(stuck.value, EngineError)
    assert not stuck.value.pending.ready()
    release.set()
    assert stuck.value.pending.get(timeout=5) == (True, "returned")


def test_a_call_within_its_deadline_returns_its_value_or_raises() -> None:
    assert offload(lambda x: x * 2, 21, deadline_s=5.0) == 42
    with pytest.raises(Refused):
        offload(refuse, deadline_s=5.0)


def test_the_consumer_gets_its_own_stuck_call_error() -> None:
    release = OsEvent()
    with pytest.raises(KafkaStuckCallError) as stuck:
        offload(release.wait, 10, deadline_s=0.05, stuck_error=KafkaStuckCallError)
    # One meaning: the engine's StuckCallError, and fatal for the consumer process.
    assert isinstance(stuck.value, StuckCallError)
    assert isinstance(stuck.value, FatalKafkaError)
    release.set()
    assert stuck.value.pending.get(timeout=5) == (True, True)


def test_threading_is_patched_here() -> None:
    # The premise of the tests above: the test process is monkey-patched.
    assert threading.get_ident is not os_thread_id

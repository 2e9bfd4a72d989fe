"""Timeline: off costs nothing and changes nothing; on, it stamps results and charges CPU."""

from __future__ import annotations

import json
import time
from typing import Any

import gevent

from consumer.backpressure import Slots
from consumer.dispatch import Dispatcher
from consumer.ledger import Ledger
from consumer.metrics import Metrics
from consumer.timeline import HEADER, Cpu, Timeline
from tests.unit.consumer.test_dispatch import POLICY, FakeEngine, _request, _source


class FakeMessage:
    def __init__(self, offset: int, appended_ms: int) -> None:
        self._offset, self._appended_ms = offset, appended_ms

    def error(self) -> None:
        return None

    def timestamp(self) -> tuple[int, int]:
        return (2, self._appended_ms)  # TIMESTAMP_LOG_APPEND_TIME

    def topic(self) -> str:
        return "requests"

    def partition(self) -> int:
        return 1

    def offset(self) -> int:
        return self._offset


class FakeIO:
    def __init__(self, messages: list[Any]) -> None:
        self.messages = messages

    def fetch(self, _n: int) -> list[Any]:
        return self.messages

    def wait_for_messages(self, _n: int, _timeout_s: float) -> list[Any]:
        return self.messages

    def produce(self, *_a: Any) -> None: ...
    def serve_producer(self) -> None: ...
    def flush(self, _t: float) -> int:
        return 0

    def pause(self, _tps: Any) -> None: ...
    def resume(self, _tps: Any) -> None: ...
    def seek(self, *_a: Any) -> bool:
        return True

    def commit_offsets(self, *_a: Any, **_k: Any) -> None: ...
    def send_offsets_to_transaction(self, *_a: Any) -> None: ...


class FakeCheckpoint:
    def commit(self, *_a: Any, **_k: Any) -> int:
        return 3


def _busy(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_off_installs_nothing_and_hands_out_one_shared_no_op() -> None:
    timeline = Timeline.off()
    io, checkpoint = FakeIO([]), FakeCheckpoint()
    fetch, commit = io.fetch, checkpoint.commit
    timeline.instrument(io, checkpoint)
    timeline.start()
    assert io.fetch == fetch and checkpoint.commit == commit
    assert timeline.section(Cpu.DECODE) is timeline.section(Cpu.ENCODE)
    timeline.stop()


def test_dispatcher_adds_no_header_when_off_and_the_stamps_when_on() -> None:
    for timeline in (None, Timeline.on()):
        ledger, slots = Ledger(), Slots(1)
        assert slots.try_acquire()  # the caller's slot, released by the dispatcher
        dispatcher = Dispatcher(
            policy=POLICY,
            engine=FakeEngine(False),
            collector=ledger,
            slots=slots,
            metrics=Metrics(),
            wake=lambda: None,
            timeline=timeline,
        )
        if timeline is not None:
            timeline.start()
            timeline.fetched([FakeMessage(7, 1_000_000)])
        record = ledger.track("requests", 1, 7)
        dispatcher.dispatch(record, _source(_request()))
        gevent.wait(timeout=5)
        headers = dict(record.outputs[0].headers)
        if timeline is None:
            assert HEADER not in headers
            continue
        timeline.stop()
        stamps = json.loads(headers[HEADER] or b"")
        assert stamps["appended"] == 1000.0
        assert (
            0 < stamps["fetched"] <= stamps["admitted"] <= stamps["uploaded"] <= stamps["encoded"]
        )
        assert (timeline.requests, timeline.files) == (1, 1)


def test_cpu_is_charged_to_the_running_greenlet_and_its_section() -> None:
    timeline = Timeline.on()
    timeline.start()
    try:
        with timeline.section(Cpu.DECODE):
            _busy(0.03)
        gevent.spawn(_busy, 0.03).join()  # any other greenlet: the engine's
        _busy(0.03)  # the loop greenlet outside any section
        report = timeline.report()
    finally:
        timeline.stop()
    cpu = report["cpu_s"]
    for category in (Cpu.DECODE, Cpu.ENGINE, Cpu.LOOP):
        assert 0.025 < cpu[category.value] < 0.2, (category, cpu)
    assert cpu[Cpu.ENCODE.value] == 0


def test_instrument_stamps_fetched_messages_and_times_checkpoints() -> None:
    timeline = Timeline.on()
    io, checkpoint = FakeIO([FakeMessage(3, 2_000)]), FakeCheckpoint()
    timeline.instrument(io, checkpoint)
    timeline.start()
    try:
        assert [m.offset() for m in io.fetch(10)] == [3]
        assert checkpoint.commit() == 3
        report = timeline.report()
    finally:
        timeline.stop()
    assert report["checkpoints"] == 1 and report["checkpoint_records"] == 3
    assert json.loads(timeline.header("requests", 1, 3, uploaded=0.0))["appended"] == 2.0

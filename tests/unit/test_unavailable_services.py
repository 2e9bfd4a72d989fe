"""`unavailable`: a missing service skips on a laptop and fails under CI, never passes;
`started`: a service of the stack started for a fixture and always closed."""

from __future__ import annotations

import pytest

from tests.conftest import started, unavailable
from upload_stream_cli.devstack.errors import StackError
from upload_stream_cli.devstack.lifecycle import Service


def test_a_missing_service_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"no broker.*CI is set"):
        unavailable("no broker")


def test_a_missing_service_skips_without_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no broker"):
        unavailable("no broker")


class FakeService(Service):
    def __init__(self, failure: str | None = None) -> None:
        self.failure = failure
        self.calls: list[str] = []

    def start(self) -> FakeService:
        self.calls.append("start")
        if self.failure is not None:
            raise StackError(self.failure)
        return self

    def close(self) -> None:
        self.calls.append("close")


def test_started_closes_a_service_that_cannot_start_and_skips(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    service = FakeService("port taken")
    with (
        pytest.raises(pytest.skip.Exception, match=r"^fake did not start: port taken$"),
        started(service, "fake"),
    ):
        raise AssertionError("the body must not run")
    assert service.calls == ["start", "close"]


def test_started_closes_the_service_however_the_body_ends() -> None:
    service = FakeService()
    seen: list[FakeService] = []
    with pytest.raises(RuntimeError), started(service, "fake", seen.append) as running:
        assert running is service
        assert service.calls == ["start"]
        raise RuntimeError("the test failed")
    assert seen == [service]
    assert service.calls == ["start", "close"]

"""`unavailable`: a missing service skips on a laptop and fails under CI, never passes."""

from __future__ import annotations

import pytest

from tests.conftest import unavailable


def test_a_missing_service_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"no broker.*CI is set"):
        unavailable("no broker")


def test_a_missing_service_skips_without_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no broker"):
        unavailable("no broker")

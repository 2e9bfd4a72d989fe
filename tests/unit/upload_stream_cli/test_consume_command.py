"""`upload-stream consume`: configuration is checked before anything connects."""

from __future__ import annotations

import os

import pytest

from upload_stream_cli.main import run


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("UPLOAD_STREAM_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({}, "UPLOAD_STREAM_DEFAULT_BUCKET is required"),
        ({"UPLOAD_STREAM_DEFAULT_BUCKET": "dest"}, "UPLOAD_STREAM_STAGING_ALLOWLIST is required"),
        (
            {
                "UPLOAD_STREAM_DEFAULT_BUCKET": "dest",
                "UPLOAD_STREAM_STAGING_ALLOWLIST": "s3://s/",
                "UPLOAD_STREAM_SESSION_TIMEOUT_MS": "9000",
                "UPLOAD_STREAM_MAX_POLL_INTERVAL_MS": "6000",
            },
            "session_timeout_ms must not exceed max_poll_interval_ms",
        ),
    ],
)
def test_missing_or_inconsistent_settings_exit_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    reason: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert run(["consume"]) == 2
    assert capsys.readouterr().err == f"upload-stream consume: {reason}\n"


def test_bad_value_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("UPLOAD_STREAM_PROCESSING_GUARANTEE", "maybe_once")
    assert run(["consume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("upload-stream consume: invalid processing_guarantee: ")
    assert err.count("\n") == 1


def test_help_lists_every_consumer_knob(capsys: pytest.CaptureFixture[str]) -> None:
    from consumer.settings import ConsumerSettings

    with pytest.raises(SystemExit) as exit_info:
        run(["consume", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in ConsumerSettings.model_fields:
        assert f"UPLOAD_STREAM_{name.upper()} [" in out

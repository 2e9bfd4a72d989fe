"""ProducerSettings from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from producer_lib.settings import ProducerSettings

NAMES = (
    "UPLOAD_STREAM_STAGING_URI",
    "UPLOAD_STREAM_STAGING_ALLOWLIST",
    "UPLOAD_STREAM_REQUESTS_TOPIC",
    "UPLOAD_STREAM_RESULTS_TOPIC",
    "UPLOAD_STREAM_PUBLISH_TIMEOUT_S",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    settings = ProducerSettings()
    assert settings.staging_uri is None
    assert settings.requests_topic == "uploads.requests"
    assert settings.results_topic == "uploads.results"
    assert settings.publish_timeout_s == 10.0
    assert settings.reply_timeout_s == 30.0


def test_staging_falls_back_to_the_consumers_first_allowed_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UPLOAD_STREAM_STAGING_ALLOWLIST", " s3://stage/in/ , file:///srv/s/")
    assert ProducerSettings().staging_uri == "s3://stage/in/"
    monkeypatch.setenv("UPLOAD_STREAM_STAGING_URI", "file:///srv/s/")
    assert ProducerSettings().staging_uri == "file:///srv/s/"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("UPLOAD_STREAM_REQUESTS_TOPIC", "bad topic"),
        ("UPLOAD_STREAM_RESULTS_TOPIC", ""),
        ("UPLOAD_STREAM_PUBLISH_TIMEOUT_S", "0"),
        ("UPLOAD_STREAM_PUBLISH_TIMEOUT_S", "soon"),
    ],
)
def test_bad_values_are_rejected(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        ProducerSettings()

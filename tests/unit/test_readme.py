"""The README is the operator's reference: every setting the code reads must be in it."""

from __future__ import annotations

from pathlib import Path

from consumer.settings import ConsumerSettings
from kafka_config.connection import KafkaConnection
from producer_lib.settings import ProducerSettings
from upload_engine.settings import EngineSettings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _variables() -> set[str]:
    names = {f"KAFKA_{f.upper()}" for f in KafkaConnection.model_fields}
    for cls in (EngineSettings, ConsumerSettings, ProducerSettings):
        names |= {f"UPLOAD_STREAM_{f.upper()}" for f in cls.model_fields}
    return names


def test_every_setting_is_in_the_readme_table() -> None:
    missing = sorted(name for name in _variables() if f"| `{name}` |" not in README)
    assert missing == []


def test_readme_shows_the_two_main_commands() -> None:
    assert "make demo" in README
    assert "make test" in README

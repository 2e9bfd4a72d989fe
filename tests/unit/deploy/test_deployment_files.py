"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine), so these tests
keep them consistent with the code: every variable the consumer is given exists as a
setting, the topics and buckets it is given are the ones set-up creates, and the image
runs the real command."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from consumer.settings import ConsumerSettings
from kafka_config.connection import KafkaConnection
from upload_engine.settings import EngineSettings

ROOT = Path(__file__).resolve().parents[3]


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _consumer_env() -> dict[str, str]:
    env = _compose()["services"]["consumer"]["environment"]
    return {str(k): str(v) for k, v in env.items()}


def _known_variables() -> set[str]:
    names = {f"UPLOAD_STREAM_{f.upper()}" for f in ConsumerSettings.model_fields}
    names |= {f"UPLOAD_STREAM_{f.upper()}" for f in EngineSettings.model_fields}
    names |= {f"KAFKA_{f.upper()}" for f in KafkaConnection.model_fields}
    return names | {
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
    }


def test_compose_has_the_whole_stack() -> None:
    services = set(_compose()["services"])
    assert services == {"kafka", "kafka-setup", "minio", "minio-setup", "clamav", "consumer"}


def test_consumer_env_names_only_real_settings() -> None:
    unknown = set(_consumer_env()) - _known_variables()
    assert unknown == set()


def test_consumer_env_validates_as_settings(monkeypatch: Any) -> None:
    for name, value in _consumer_env().items():
        monkeypatch.setenv(name, value)
    consumer = ConsumerSettings()
    engine = EngineSettings()
    assert consumer.requests_topic == "uploads.requests"
    assert engine.default_bucket == "upload-stream-documents"
    assert KafkaConnection().bootstrap_servers == "kafka:9092"


def test_setup_creates_the_topics_and_buckets_the_consumer_uses() -> None:
    services = _compose()["services"]
    env = _consumer_env()
    topic_script = "\n".join(services["kafka-setup"]["command"])
    topics = set(re.search(r"for topic in ([^;]+);", topic_script).group(1).split())
    assert topics == {
        env["UPLOAD_STREAM_REQUESTS_TOPIC"],
        env["UPLOAD_STREAM_RESULTS_TOPIC"],
        env["UPLOAD_STREAM_DLQ_TOPIC"],
    }
    bucket_script = "\n".join(services["minio-setup"]["command"])
    buckets = set(re.findall(r"mc mb --ignore-existing local/(\S+)", bucket_script))
    staging_bucket = env["UPLOAD_STREAM_STAGING_ALLOWLIST"].removeprefix("s3://").split("/")[0]
    assert buckets == {env["UPLOAD_STREAM_DEFAULT_BUCKET"], staging_bucket}


def test_single_broker_internal_topics_have_one_replica() -> None:
    kafka_env = _compose()["services"]["kafka"]["environment"]
    for name in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert kafka_env[name] == 1, name


def test_dockerfile_runs_the_consumer_as_non_root_on_the_metrics_port() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["upload-stream"]' in text
    assert 'CMD ["consume"]' in text
    assert re.search(r"^USER (?!root)\S+", text, re.MULTILINE)
    port = _consumer_env()["UPLOAD_STREAM_METRICS_PORT"]
    assert f"EXPOSE {port}" in text
    assert f":{port}/healthz" in text


def test_consumer_is_restarted_after_a_fatal_exit() -> None:
    # A fatal Kafka error ends `upload-stream consume` with exit 1 by design.
    assert _compose()["services"]["consumer"]["restart"] == "unless-stopped"


def test_the_image_holds_every_package() -> None:
    # pip installs only what was copied: a package left out imports nowhere at run time.
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = set(re.findall(r"^COPY (\w+) \./\1$", (ROOT / "Dockerfile").read_text(), re.MULTILINE))
    assert packages <= copied, sorted(packages - copied)

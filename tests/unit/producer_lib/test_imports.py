"""Importing producer_lib loads neither boto3 nor confluent_kafka until they are used.

A gevent application must be able to monkey-patch before boto3 is imported, and a web
process that only uses direct mode never needs librdkafka. Each case runs in a fresh
interpreter, so what the test process already imported does not count.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("boto3", "botocore", "s3transfer", "confluent_kafka", "consumer")

_PROBE = """
import json, sys
{statement}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _loaded_after(statement: str) -> list[str]:
    probe = _PROBE.format(statement=statement, heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    )
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "statement",
    [
        "import producer_lib",
        "from producer_lib import ProducerSettings",
        "from producer_lib import ProducerLibError, PublishError, ResultTimeout, StagingError",
        "from producer_lib import AWSService",
        "from producer_lib import UploadClient, UploadSpec, PendingUpload",
        "from producer_lib import DirStager",
        "from producer_lib.settings import ProducerSettings; ProducerSettings()",
        "from upload_engine.model import LocalBlob",
        "from upload_engine.settings import EngineSettings; EngineSettings()",
    ],
)
def test_light_names_load_no_client_library(statement: str) -> None:
    assert _loaded_after(statement) == []


def test_the_probe_sees_a_client_library_once_it_is_used() -> None:
    # The check above can fail: naming a Kafka-backed class does load confluent_kafka.
    assert _loaded_after("from producer_lib import ResultReader") == ["confluent_kafka"]
    assert "botocore" in _loaded_after("from producer_lib import S3Stager")


def test_direct_mode_loads_boto3_but_never_librdkafka() -> None:
    loaded = _loaded_after("from producer_lib.direct import DirectTransport")
    assert "boto3" in loaded
    assert "confluent_kafka" not in loaded

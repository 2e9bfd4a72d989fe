"""With no broker to talk to: publishes fail (exit 1), reads fail with one clear line."""

from datetime import UTC, datetime

import pytest

from schemas import UploadRequest
from upload_stream_cli.main import run
from upload_stream_cli.ops.publisher import ReplayPublisher

NOWHERE = "127.0.0.1:1"  # port 1: nothing listens, connections are refused at once


def test_unacknowledged_publishes_are_reported_as_failures() -> None:
    request = UploadRequest.model_validate(
        {
            "schema_version": 1,
            "request_id": "a.r2",
            "user_id": "u1",
            "files": {
                "id": {
                    "uri": "s3://staging-bucket/a.jpg",
                    "size": 1,
                    "sha256": "0" * 64,
                    "content_type": "image/jpeg",
                }
            },
            "created_at": datetime(2026, 11, 28, tzinfo=UTC),
        }
    )
    reports: list[str | None] = []
    publisher = ReplayPublisher({"bootstrap.servers": NOWHERE}, "uploads.requests")
    publisher.send(request, reports.append)
    publisher.send(request, reports.append)
    publisher.finish(timeout_s=0.3)
    assert reports == ["Local: Purged in queue", "Local: Purged in queue"]


def test_unreachable_broker_exits_1_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", NOWHERE)
    assert run(["replay", "--from", "results", "--timeout", "0.5"]) == 1
    assert capsys.readouterr().err == (
        "upload-stream replay: cannot reach Kafka: "
        "Failed to get metadata: Local: Broker transport failure\n"
    )
    assert run(["dlq", "list", "--timeout", "0.5"]) == 1
    assert capsys.readouterr().err == (
        "upload-stream dlq: cannot reach Kafka: "
        "Failed to get metadata: Local: Broker transport failure\n"
    )

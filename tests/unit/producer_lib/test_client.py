"""UploadClient, RequestPublisher and request building with fakes in place of Kafka."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from confluent_kafka import KafkaError

from producer_lib import publisher as publisher_module
from producer_lib.builder import build_request
from producer_lib.client import UploadClient, UploadSpec
from producer_lib.errors import InvalidUploadError, PublishError, StagingError
from producer_lib.publisher import RequestPublisher
from producer_lib.settings import ProducerSettings
from schemas import BlobRef, UploadRequest, decode_request

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class FakePublisher:
    def __init__(self, fail: set[int] | None = None, fail_all: bool = False) -> None:
        self.batches: list[list[UploadRequest]] = []
        self.fail = fail or set()
        self.fail_all = fail_all

    def publish_batch(self, requests: Sequence[UploadRequest], *, traceparent: Any = None) -> None:
        self.batches.append(list(requests))
        failed = [r.request_id for i, r in enumerate(requests) if self.fail_all or i in self.fail]
        if failed:
            raise PublishError("broker said no", request_ids=failed, kafka_error="_MSG_TIMED_OUT")

    def close(self) -> None:
        pass


def _client(tmp_path: Path, publisher: FakePublisher) -> UploadClient:
    return UploadClient(
        ProducerSettings(staging_uri=f"file://{tmp_path}/staging/"),
        publisher=publisher,  # type: ignore[arg-type]
    )


def _staged(tmp_path: Path) -> list[str]:
    """Staged files (in the users' staging-scope directories), by name."""
    directory = tmp_path / "staging"
    return sorted(p.name for p in directory.rglob("*") if p.is_file())


def test_submit_publishes_one_contract_valid_request(tmp_path: Path) -> None:
    fake = FakePublisher()
    pending = _client(tmp_path, fake).submit(
        42, {"passport": b"abc", "selfie": None}, "kyc", max_workers=200, bucket="dest-bucket"
    )

    (batch,) = fake.batches
    (request,) = batch
    assert pending.request is request
    assert re.fullmatch(r"req-[0-9a-f-]{36}", request.request_id)
    assert request.user_id == "42"
    assert request.file_category == "kyc"
    assert list(request.files) == ["passport"]
    assert request.files["passport"].size == 3
    assert request.max_workers == 64  # clamped: a hint, as the seed passes len(files)
    assert request.bucket == "dest-bucket"
    assert request.reply_topic is None
    assert decode_request(request.model_dump_json().encode()) == request
    assert len(_staged(tmp_path)) == 1
    with pytest.raises(ValueError, match="track=False"):
        pending.result(1.0)


def test_a_failed_publish_removes_what_was_staged(tmp_path: Path) -> None:
    fake = FakePublisher(fail_all=True)
    with pytest.raises(PublishError) as caught:
        _client(tmp_path, fake).submit("u1", {"a": b"1", "b": b"2", "c": b"3"})
    assert len(caught.value.request_ids) == 1
    assert _staged(tmp_path) == []


def test_a_partly_failed_batch_removes_only_the_failed_requests_blobs(tmp_path: Path) -> None:
    fake = FakePublisher(fail={1})
    client = _client(tmp_path, fake)
    specs = [UploadSpec(user_id=f"u{i}", files={"doc": f"doc {i}".encode()}) for i in range(3)]
    with pytest.raises(PublishError) as caught:
        client.submit_batch(specs)

    (batch,) = fake.batches
    assert caught.value.request_ids == (batch[1].request_id,)
    kept = sorted(r.files["doc"].uri.rsplit("/", 1)[1] for r in (batch[0], batch[2]))
    assert _staged(tmp_path) == kept


def test_prestaged_blob_refs_pass_through_and_are_never_deleted(tmp_path: Path) -> None:
    outside = tmp_path / "staging" / ("f" * 32)
    outside.parent.mkdir()
    outside.write_bytes(b"pre")
    ref = BlobRef(uri=f"file://{outside}", size=3, sha256="1" * 64, content_type="a/b")
    with pytest.raises(PublishError):
        _client(tmp_path, FakePublisher(fail_all=True)).submit("u", {"doc": ref, "new": b"n"})
    assert _staged(tmp_path) == ["f" * 32]


def test_a_staging_failure_removes_the_files_staged_before_it(tmp_path: Path) -> None:
    class Unreadable:
        def read(self, _n: int) -> bytes:
            raise OSError(13, "Permission denied")

    fake = FakePublisher()
    client = _client(tmp_path, fake)
    with pytest.raises(StagingError, match="Permission denied"):
        client.submit("u", {"a": b"1", "b": Unreadable(), "c": b"3"})  # type: ignore[dict-item]
    assert fake.batches == []
    assert _staged(tmp_path) == []


@pytest.mark.parametrize(
    ("user_id", "files", "category", "message"),
    [
        ("../x", {"a": b"1"}, "general", "invalid upload: user_id: String should match pattern"),
        (True, {"a": b"1"}, "general", "invalid upload: user_id: Input should be a valid string"),
        ("u", {"A": b"1"}, "general", "invalid upload: files.*.[key]: String should match"),
        ("u", {"a": b"1"}, "Bad Cat", "invalid upload: file_category: String should match"),
        ("u", {"a": None}, "general", "invalid upload: files: no files given"),
    ],
)
def test_bad_arguments_fail_before_anything_is_staged(
    tmp_path: Path, user_id: Any, files: Any, category: str, message: str
) -> None:
    fake = FakePublisher()
    with pytest.raises(InvalidUploadError) as caught:
        _client(tmp_path, fake).submit(user_id, files, category)
    assert str(caught.value).startswith(message)
    assert fake.batches == []
    assert _staged(tmp_path) == []


def test_build_request_defaults() -> None:
    ref = BlobRef(uri="s3://staging-bucket/k", size=1, sha256="a" * 64, content_type="a/b")
    request = build_request(user_id=7, files={"doc": ref}, metadata={"source": "web"})
    assert request.model_dump(exclude={"request_id", "created_at"}) == {
        "schema_version": 1,
        "user_id": "7",
        "file_category": "general",
        "files": {"doc": ref.model_dump()},
        "bucket": None,
        "max_workers": None,
        "reply_topic": None,
        "attempt": 1,
        "replay_of": None,
        "metadata": {"source": "web"},
    }
    assert request.created_at.utcoffset() is not None


class FakeProducer:
    instances: ClassVar[list[FakeProducer]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.produced: list[dict[str, Any]] = []
        self.error: KafkaError | None = None
        FakeProducer.instances.append(self)

    def produce(self, topic: str, **kwargs: Any) -> None:
        self.produced.append({"topic": topic, **kwargs})

    def poll(self, _timeout: float) -> int:
        served = 0
        while self.produced and not self.produced[-1].get("done"):
            pending = [p for p in self.produced if not p.get("done")]
            for item in pending:
                item["done"] = True
                item["on_delivery"](self.error, None)
                served += 1
        return served

    def flush(self, _timeout: float) -> int:
        return 0


@pytest.fixture
def fake_producer(monkeypatch: pytest.MonkeyPatch) -> type[FakeProducer]:
    FakeProducer.instances = []
    monkeypatch.setattr(publisher_module, "Producer", FakeProducer)
    return FakeProducer


def _request(user: str = "42") -> UploadRequest:
    ref = BlobRef(uri="s3://staging-bucket/k", size=1, sha256="a" * 64, content_type="a/b")
    return build_request(user_id=user, files={"doc": ref})


def test_publisher_config_key_value_and_headers(fake_producer: type[FakeProducer]) -> None:
    publisher = RequestPublisher({"bootstrap.servers": "b:9092"}, topic="reqs", timeout_s=2.5)
    request = _request()
    publisher.publish(request, traceparent=TRACEPARENT)

    (producer,) = fake_producer.instances
    assert producer.config["enable.idempotence"] is True
    assert producer.config["acks"] == "all"
    assert producer.config["message.timeout.ms"] == 2500
    assert producer.config["bootstrap.servers"] == "b:9092"
    (sent,) = producer.produced
    assert sent["topic"] == "reqs"
    assert sent["key"] == b"42"
    assert decode_request(sent["value"]) == request
    assert sent["headers"] == [
        ("event_type", b"upload.request.v1"),
        ("correlation_id", request.request_id.encode()),
        ("content_type", b"application/json"),
        ("traceparent", TRACEPARENT.encode()),
    ]


def test_publisher_drops_an_invalid_traceparent(fake_producer: type[FakeProducer]) -> None:
    RequestPublisher({"bootstrap.servers": "b"}).publish(_request(), traceparent="00-evil\r\n")
    (sent,) = fake_producer.instances[0].produced
    assert [name for name, _ in sent["headers"]] == ["event_type", "correlation_id", "content_type"]


def test_publisher_reports_failed_deliveries(fake_producer: type[FakeProducer]) -> None:
    publisher = RequestPublisher({"bootstrap.servers": "b"}, topic="reqs")
    fake_producer.instances[0].error = KafkaError(KafkaError._MSG_TIMED_OUT)
    requests = [_request("a"), _request("b")]
    with pytest.raises(PublishError) as caught:
        publisher.publish_batch(requests)
    assert caught.value.request_ids == (requests[0].request_id, requests[1].request_id)
    assert caught.value.kafka_error == "_MSG_TIMED_OUT"
    assert caught.value.retryable is True
    assert str(caught.value).startswith("2 of 2 requests not acknowledged by the broker on reqs:")


def test_publisher_without_a_topic_reads_the_shared_one(
    fake_producer: type[FakeProducer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPLOAD_STREAM_REQUESTS_TOPIC", "team.requests")
    RequestPublisher({"bootstrap.servers": "b:9092"}).publish(_request())
    (producer,) = fake_producer.instances
    assert [sent["topic"] for sent in producer.produced] == ["team.requests"]

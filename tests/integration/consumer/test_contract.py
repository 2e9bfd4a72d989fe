"""The consumer against the contract: every outcome, field by field, on a real broker and
S3 endpoint. One in-process consumer serves the whole module (a group join costs ~3 s)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unique
from tests.integration.consumer_helpers import ConsumerRig, Read, encode, publish, request, stage
from upload_stream_cli.devstack.kafka import create_topics
from upload_stream_cli.devstack.s3 import s3_client

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
DLQ_NAMES = (
    "dlq_reason_code",
    "dlq_reason",
    "dlq_source_topic",
    "dlq_source_partition",
    "dlq_source_offset",
    "dlq_failed_at",
)


class World:
    """A `ConsumerRig` made by hand: the rig fixture is per test, this world per module."""

    def __init__(self, stack: Any, tmp: Path) -> None:
        self.bootstrap = stack.bootstrap_servers
        self.topics = {r: unique(f"test.{r}") for r in ("requests", "results", "dlq", "other")}
        create_topics(self.bootstrap, self.topics.values(), 3)
        self.s3 = s3_client(stack.s3_endpoint, fake_credentials=stack.fake_credentials)
        self.bucket = unique("dest")
        self.s3.create_bucket(Bucket=self.bucket)
        self.staging = tmp
        self.rig = ConsumerRig(
            stack,
            topics=self.topics,
            bucket=self.bucket,
            staging=tmp,
            group_id=unique("group"),
            s3=self.s3,
            logs=tmp,
        )
        env = self.rig.env(
            UPLOAD_STREAM_ALLOWED_REPLY_TOPICS=f"{self.topics['results']},{self.topics['other']}",
            UPLOAD_STREAM_MAX_FILES_PER_REQUEST="3",
        )
        self.consumer = self.rig.start_in_process(env)
        self.reader = self.rig.reader("results", "dlq", "other")

    def send(self, key: bytes | None, value: bytes | None, headers: Any = None) -> None:
        self.rig.publish([(key, value, headers)])

    def result(self, request_id: str, topic: str | None = None) -> Read:
        topic = topic or self.topics["results"]

        def found(records: list[Read]) -> bool:
            return any(r.topic == topic and r.json()["request_id"] == request_id for r in records)

        self.reader.wait(found, 30, f"result of {request_id}")
        return next(r for r in self.reader.of(topic) if r.json()["request_id"] == request_id)

    def dead_letter(self, value: bytes | None) -> Read:
        dlq = self.topics["dlq"]
        self.reader.wait(
            lambda rs: any(r.topic == dlq and r.value == value for r in rs), 30, "a dead letter"
        )
        return next(r for r in self.reader.of(dlq) if r.value == value)


@pytest.fixture(scope="module")
def world(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(stack, tmp_path_factory.mktemp("staging"))
    try:
        yield w
        assert w.consumer.stop() == 0
    finally:
        w.rig.close()


def _rid() -> str:
    return f"req-{uuid.uuid4().hex[:12]}"


def _check_result_headers(read: Read, request_id: str, traceparent: str | None) -> None:
    assert read.header("event_type") == "upload.result.v1"
    assert read.header("correlation_id") == request_id
    assert read.header("content_type") == "application/json"
    assert read.header("traceparent") == traceparent


def _check_dlq(read: Read, world: World, code: str, key: bytes | None, original: Any) -> None:
    names = [k for k, _ in read.headers]
    assert names[: len(original)] == [k for k, _ in original]
    assert names[len(original) :] == list(DLQ_NAMES)
    assert read.key == key
    assert read.header("dlq_reason_code") == code
    assert read.header("dlq_source_topic") == world.topics["requests"]
    assert int(read.header("dlq_source_partition") or "-1") in (0, 1, 2)
    assert int(read.header("dlq_source_offset") or "-1") >= 0
    datetime.fromisoformat(read.header("dlq_failed_at") or "")


def test_happy_path_uploads_every_file_and_reports_it(world: World) -> None:
    passport, selfie = b"%PDF passport bytes", b"\xff\xd8 selfie jpeg"
    files = {
        "passport": stage(world.staging, passport, "passport.PDF", "application/pdf"),
        "selfie": stage(world.staging, selfie, "selfie.jpg", "image/jpeg"),
    }
    rid = _rid()
    world.send(
        b"123",
        encode(request(rid, "123", files, metadata={"flow": "onboarding"})),
        [("traceparent", TRACEPARENT.encode())],
    )

    read = world.result(rid)
    result = read.json()
    assert read.key == b"123"
    _check_result_headers(read, rid, TRACEPARENT)
    passport_key = f"kyc_documents/user_123/passport/{hashlib.sha256(passport).hexdigest()}.pdf"
    selfie_key = f"kyc_documents/user_123/selfie/{hashlib.sha256(selfie).hexdigest()}.jpg"
    assert result["schema_version"] == 1
    assert result["request_id"] == rid
    assert result["user_id"] == "123"
    assert result["file_category"] == "kyc_documents"
    assert result["attempt"] == 1
    assert result["replay_of"] is None
    assert result["metadata"] == {"flow": "onboarding"}
    assert result["bucket"] == world.bucket
    assert result["status"] == "succeeded"
    assert result["urls"] == {
        "passport": f"s3://{world.bucket}/{passport_key}",
        "selfie": f"s3://{world.bucket}/{selfie_key}",
    }
    assert result["failures"] == {}
    assert result["error"] is None
    obj = result["objects"]["passport"]
    assert (obj["bucket"], obj["key"], obj["size"]) == (world.bucket, passport_key, len(passport))
    assert obj["sha256"] == hashlib.sha256(passport).hexdigest()
    assert obj["content_type"] == "application/pdf"
    assert obj["version_id"] is None
    assert world.s3.get_object(Bucket=world.bucket, Key=passport_key)["Body"].read() == passport
    assert world.s3.get_object(Bucket=world.bucket, Key=selfie_key)["Body"].read() == selfie
    assert result["duration_ms"] >= 0


def test_partial_failure_reports_each_file(world: World) -> None:
    good = stage(world.staging, b"good bytes", "id.png", "image/png")
    bad = stage(world.staging, b"tampered", "back.png", "image/png")
    bad["sha256"] = "0" * 64
    rid = _rid()
    world.send(b"u-7", encode(request(rid, "u-7", {"id_front": good, "id_back": bad})))

    result = world.result(rid).json()
    assert result["status"] == "partial"
    assert sorted(result["urls"]) == ["id_front"]
    assert result["failures"]["id_back"]["code"] == "checksum_mismatch"
    assert result["failures"]["id_back"]["retryable"] is False
    assert result["failed_sources"] == {"id_back": bad}
    assert result["error"] is None


def _bad_requests(world: World, rid: str) -> dict[str, tuple[bytes, str | None]]:
    files = {"passport": stage(world.staging, b"x", "p.pdf", "application/pdf")}
    too_many = {f"f{i}": files["passport"] for i in range(4)}
    return {
        "invalid_json": (b'{"request_id": "' + rid.encode() + b'", ', None),
        "invalid_request": (
            encode({**request(rid, "42", files), "created_at": "yesterday"}),
            world.topics["results"],
        ),
        "unsupported_schema_version": (
            encode({**request(rid, "42", files), "schema_version": 2}),
            world.topics["results"],
        ),
        "too_many_files": (encode(request(rid, "42", too_many)), world.topics["results"]),
        "bucket_not_allowed": (
            encode(request(rid, "42", files, bucket="elsewhere-bucket")),
            world.topics["results"],
        ),
        "reply_topic_not_allowed": (
            encode(request(rid, "42", files, reply_topic="not.allowed")),
            world.topics["results"],
        ),
    }


@pytest.mark.parametrize(
    "code",
    [
        "invalid_json",
        "invalid_request",
        "unsupported_schema_version",
        "too_many_files",
        "bucket_not_allowed",
        "reply_topic_not_allowed",
    ],
)
def test_request_level_rejection_gets_result_and_dead_letter(world: World, code: str) -> None:
    rid = _rid()
    value, result_topic = _bad_requests(world, rid)[code]
    original = [("traceparent", TRACEPARENT.encode()), ("x-origin", b"test")]
    world.send(b"42", value, original)

    dead = world.dead_letter(value)
    _check_dlq(dead, world, code, b"42", original)
    if result_topic is None:  # request_id and user_id unreadable: DLQ only
        return
    read = world.result(rid, result_topic)
    _check_result_headers(read, rid, TRACEPARENT)
    result = read.json()
    assert result["status"] == "failed"
    assert result["error"]["code"] == code
    assert result["user_id"] == "42"
    assert result["bucket"] == world.bucket
    assert (result["urls"], result["objects"], result["failures"]) == ({}, {}, {})


def test_allowed_reply_topic_receives_the_result(world: World) -> None:
    rid = _rid()
    files = {"passport": stage(world.staging, b"reply", "p.pdf", "application/pdf")}
    world.send(b"9", encode(request(rid, "9", files, reply_topic=world.topics["other"])))
    assert world.result(rid, world.topics["other"]).json()["status"] == "succeeded"


@pytest.mark.parametrize(
    ("name", "value", "headers"),
    [
        ("garbage", b"\x00\x9f garbage \xff", [("h", b"\xff\xfe")]),
        ("null", None, None),
        ("huge", b"[" * 900_000, [("h", None)]),
        ("json array", b"[1, 2]", None),
    ],
)
def test_unreadable_input_goes_to_dlq_only(
    world: World, name: str, value: bytes | None, headers: Any
) -> None:
    key = f"k-{name}".encode()
    world.send(key, value, headers)
    dlq = world.topics["dlq"]
    world.reader.wait(lambda rs: any(r.topic == dlq and r.key == key for r in rs), 30, name)
    dead = next(r for r in world.reader.of(dlq) if r.key == key)
    assert dead.value == value
    expected_code = "invalid_request" if name == "json array" else "invalid_json"
    _check_dlq(dead, world, expected_code, key, headers or [])
    rid = _rid()
    files = {"passport": stage(world.staging, b"after", "p.pdf", "application/pdf")}
    world.send(b"5", encode(request(rid, "5", files)))
    assert world.result(rid).json()["status"] == "succeeded"


def test_dead_letter_too_large_to_forward_goes_without_its_value(world: World) -> None:
    value = b"x" * 1_040_000  # fits the topic, not librdkafka's message.max.bytes + headers
    publish(
        world.bootstrap,
        world.topics["requests"],
        [(b"big", value, [("h", b"v")])],
        **{"message.max.bytes": 1_048_000},
    )
    dlq = world.topics["dlq"]
    world.reader.wait(lambda rs: any(r.topic == dlq and r.key == b"big" for r in rs), 30, "big")
    dead = next(r for r in world.reader.of(dlq) if r.key == b"big")
    assert dead.value is None
    assert dead.header("dlq_reason_code") == "invalid_json"
    assert dead.header("dlq_value_omitted") == "too_large"
    assert dead.headers[0] == ("h", b"v")

"""Uploads that work: the three paths, idempotency, encryption, concurrency limits, retries."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError, ResponseStreamingError

from schemas import FileFailureCode as C
from tests.unit.engine_support import Env, opaque_bytes, sha
from upload_engine import LocalBlob, UploadEngine

MiB = 1024 * 1024
DATA = b"\x89PNG small image"


@pytest.fixture(params=["gevent", "threads"])
def executor(request: pytest.FixtureRequest) -> str:
    """Every test here runs with both schedulers (as s3transfer runs its suite twice)."""
    kind: str = request.param
    return kind


def test_all_three_sources_land_under_their_keys(env: Env, executor: str) -> None:
    engine = env.engine(executor=executor)
    assert engine.executor_kind == executor
    files: dict[str, Any] = {
        "local": LocalBlob(io.BytesIO(DATA), "image/png", "scan.PNG"),
        "staged_file": env.stage_file("a.png", DATA, content_type="image/png"),
        "staged_s3": env.stage_s3("a.pdf", DATA),
    }
    outcome = engine.upload(env.job(files))
    digest = sha(DATA)
    assert outcome.failures == {}
    assert {k: v.key for k, v in outcome.objects.items()} == {
        "local": f"kyc/user_u1/local/{digest}.png",
        "staged_file": f"kyc/user_u1/staged_file/{digest}.png",
        "staged_s3": f"kyc/user_u1/staged_s3/{digest}.pdf",
    }
    for obj in outcome.objects.values():
        assert (obj.bucket, obj.size, obj.sha256) == (env.dest, len(DATA), digest)
        assert env.body(obj.key) == DATA
        assert obj.etag and '"' not in obj.etag
    assert outcome.started_at is not None and outcome.finished_at is not None
    assert outcome.started_at <= outcome.finished_at


def test_content_type_is_stored(env: Env) -> None:
    outcome = env.engine().upload(env.job({"doc": env.stage_file("a.jpg", DATA)}))
    head = env.client.head_object(Bucket=env.dest, Key=outcome.objects["doc"].key)
    assert head["ContentType"] == "image/jpeg"


def test_multipart_with_a_small_threshold(env: Env, executor: str) -> None:
    data = opaque_bytes(11 * MiB)
    client = env.flaky()
    engine = env.engine(
        client, executor=executor, multipart_threshold_bytes=5 * MiB, multipart_part_bytes=5 * MiB
    )
    outcome = engine.upload(
        env.job({"video": env.stage_file("v.mp4", data, content_type="video/mp4")})
    )
    assert outcome.failures == {}
    assert env.body(outcome.objects["video"].key) == data
    assert client.calls["upload_part"] == 3
    assert client.calls["complete_multipart_upload"] == 1
    assert "put_object" not in client.calls


def test_multipart_from_a_staged_s3_object_resumes_a_broken_read(env: Env) -> None:
    data = opaque_bytes(11 * MiB)
    ref = env.stage_s3("big.pdf", data)
    client = env.flaky()
    inner_get = env.client.get_object
    broken = {"done": False}
    ranges: list[str | None] = []

    def get_object(**kwargs: Any) -> Any:
        ranges.append(kwargs.get("Range"))
        response = inner_get(**kwargs)
        if not broken["done"]:
            broken["done"] = True
            body = response["Body"]
            real_read = body.read

            def read(size: int | None = None) -> bytes:
                if body._amount_read >= 6 * MiB:  # break the stream mid-way, once
                    raise ResponseStreamingError(error="connection reset")
                return real_read(size)  # type: ignore[no-any-return]

            body.read = read
        return response

    client.get_object = get_object  # type: ignore[method-assign]
    engine = env.engine(client, multipart_threshold_bytes=5 * MiB, multipart_part_bytes=5 * MiB)
    outcome = engine.upload(env.job({"doc": ref}))
    assert outcome.failures == {}
    assert env.body(outcome.objects["doc"].key) == data
    assert ranges == [None, f"bytes={10 * MiB}-"]


def test_staged_object_with_a_stored_sha256_is_copied_not_streamed(env: Env) -> None:
    ref = env.stage_s3("a.pdf", DATA, stored_checksum=True)
    client = env.flaky()
    ranges: list[str] = []
    client.before["get_object"] = lambda kwargs: ranges.append(kwargs.get("Range", "all"))
    outcome = env.engine(client).upload(env.job({"doc": ref}))
    assert outcome.failures == {}
    assert client.calls.get("copy_object") == 1
    # Not streamed: the type check reads only the head, with a ranged GET.
    assert ranges == [f"bytes=0-{len(DATA) - 1}"]
    assert env.body(outcome.objects["doc"].key) == DATA


def test_staged_object_with_a_different_stored_sha256_is_streamed_and_rejected(env: Env) -> None:
    ref = env.stage_s3("a.pdf", DATA, stored_checksum=True, claim=DATA[::-1])
    client = env.flaky()
    outcome = env.engine(client).upload(env.job({"doc": ref}))
    assert outcome.failures["doc"].code is C.CHECKSUM_MISMATCH
    assert "copy_object" not in client.calls
    assert env.keys() == []


def test_same_job_twice_is_idempotent(env: Env) -> None:
    engine = env.engine()
    files = {"a": env.stage_file("a.jpg", DATA), "b": env.stage_s3("b.pdf", b"other bytes")}
    first = engine.upload(env.job(files))
    second = engine.upload(env.job(files))
    assert {k: v.key for k, v in first.objects.items()} == {
        k: v.key for k, v in second.objects.items()
    }
    assert env.keys() == sorted(v.key for v in first.objects.values())


def test_non_seekable_local_stream_is_spooled(env: Env) -> None:
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer: Any) -> int:
            chunk = self._data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    outcome = env.engine().upload(env.job({"doc": LocalBlob(Pipe(DATA), "image/png")}))  # type: ignore[arg-type]
    assert env.body(outcome.objects["doc"].key) == DATA


def test_local_blob_is_read_from_its_current_position(env: Env) -> None:
    stream = io.BytesIO(b"HEADER" + DATA)
    stream.seek(6)
    outcome = env.engine().upload(env.job({"doc": LocalBlob(stream, "image/png")}))
    assert outcome.objects["doc"].sha256 == sha(DATA)


@pytest.mark.parametrize(
    ("sse", "expected"), [("AES256", "AES256"), ("aws:kms", "aws:kms"), ("none", None)]
)
def test_server_side_encryption(env: Env, sse: str, expected: str | None) -> None:
    outcome = env.engine(sse=sse).upload(env.job({"doc": env.stage_file("a.jpg", DATA)}))
    head = env.client.head_object(Bucket=env.dest, Key=outcome.objects["doc"].key)
    assert head.get("ServerSideEncryption") == expected


def test_kms_key_id_is_sent(env: Env) -> None:
    client = env.flaky()
    sent: list[dict[str, Any]] = []
    client.before["put_object"] = sent.append
    env.engine(client, sse="aws:kms", sse_kms_key_id="alias/kyc").upload(
        env.job({"doc": env.stage_file("a.jpg", DATA)})
    )
    assert (sent[0]["ServerSideEncryption"], sent[0]["SSEKMSKeyId"]) == ("aws:kms", "alias/kyc")


def test_put_sends_the_sha256_and_no_expect_header(env: Env) -> None:
    from upload_engine.verify import b64_of_hex

    headers: list[dict[str, Any]] = []

    def capture(request: Any, **_: Any) -> None:
        headers.append(dict(request.headers))

    engine = env.engine()  # installs the engine's hooks on the shared client first
    env.client.meta.events.register_last("before-send.s3.PutObject", capture)
    try:
        engine.upload(env.job({"doc": env.stage_file("a.jpg", DATA)}))
    finally:
        env.client.meta.events.unregister("before-send.s3.PutObject", capture)
    [sent] = headers
    assert "Expect" not in sent
    assert sent["x-amz-checksum-sha256"] == b64_of_hex(sha(DATA)).encode()


def test_transient_put_failures_are_retried(env: Env) -> None:
    client = env.flaky()
    client.fail["put_object"] = [
        ClientError(
            {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}},
            "PutObject",
        ),
        ClientError(
            {"Error": {"Code": "InternalError"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
            "PutObject",
        ),
    ]
    outcome = env.engine(client).upload(env.job({"doc": env.stage_file("a.jpg", DATA)}))
    assert list(outcome.objects) == ["doc"]
    assert client.calls["put_object"] == 3


class InFlight:
    """Counts concurrent put_object calls; each one takes a few ms, like a round trip."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self._lock = threading.Lock()

    def __call__(self, _: dict[str, Any]) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(0.005)  # simulated latency, so calls overlap
        with self._lock:
            self.now -= 1


def test_job_max_workers_caps_its_files(env: Env, executor: str) -> None:
    client = env.flaky()
    client.before["put_object"] = counter = InFlight()
    files: dict[str, Any] = {
        f"f{i}": LocalBlob(io.BytesIO(b"%d" % i), "image/png") for i in range(12)
    }
    outcome = env.engine(client, executor=executor).upload(env.job(files, max_workers=3))
    assert len(outcome.objects) == 12
    assert counter.peak == 3


def test_max_concurrency_caps_all_jobs_together(env: Env, executor: str) -> None:
    client = env.flaky()
    client.before["put_object"] = counter = InFlight()
    engine = env.engine(client, executor=executor, max_concurrency=4)

    def one_job(n: int) -> None:
        files: dict[str, Any] = {
            f"f{i}": LocalBlob(io.BytesIO(b"%d-%d" % (n, i)), "image/png") for i in range(6)
        }
        assert len(engine.upload(env.job(files, max_workers=6)).objects) == 6

    threads = [threading.Thread(target=one_job, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.peak == 4
    assert len(env.keys()) == 18


def test_upload_after_close_raises(env: Env) -> None:
    from upload_engine.errors import EngineClosedError

    engine = env.engine()
    engine.close()
    with pytest.raises(EngineClosedError):
        engine.upload(env.job({"doc": env.stage_file("a.jpg", DATA)}))


def test_auto_executor_follows_gevent_patching(env: Env) -> None:
    # The test process is monkey-patched (tests/conftest.py), so auto means greenlets.
    assert env.engine(executor="auto").executor_kind == "gevent"


def test_own_client_has_a_big_enough_pool() -> None:
    from upload_engine.settings import EngineSettings

    engine = UploadEngine(EngineSettings(max_concurrency=48, staging_allowlist=[]))
    try:
        # Two per file: a staged object's HEAD and the type check's GET go out together.
        assert engine.client.meta.config.max_pool_connections == 96
        assert engine.client.meta.config.retries["total_max_attempts"] == 1
    finally:
        engine.close()

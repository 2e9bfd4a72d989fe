"""What the engine's own S3 client puts on the wire for a PutObject, without a network:
a `before-send` hook captures the signed request and answers it in place."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from tests.unit.engine_support import sha
from upload_engine import LocalBlob, UploadEngine, UploadJob
from upload_engine.settings import EngineSettings
from upload_engine.verify import b64_of_hex

DATA = b"%PDF-1.7 " * 1000


class _Raw:
    def stream(self, *_: Any, **__: Any) -> Iterator[bytes]:
        return iter([b""])


def sent_headers(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, blob: LocalBlob, **settings: Any
) -> dict[str, str]:
    """The headers of the one PutObject the engine's own client sends for `blob`."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    engine = UploadEngine(EngineSettings(s3_addressing_style="path", **settings))
    captured: list[dict[str, str]] = []

    def answer(request: Any, **_: Any) -> AWSResponse:
        captured.append(
            {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        )
        return AWSResponse(request.url, 200, HTTPHeaders.from_dict({"ETag": '"e"'}), _Raw())

    # A before-send handler that returns a response short-cuts the network.
    engine.client.meta.events.register_last("before-send.s3.PutObject", answer)  # type: ignore[arg-type]
    try:
        job = UploadJob(
            request_id="r", user_id="1", file_category="kyc", bucket="dest",
            files={"doc": blob}, max_workers=1,
        )  # fmt: skip
        outcome = engine.upload(job)
    finally:
        engine.close()
    assert outcome.failures == {}
    [headers] = captured
    return headers


def signed_headers(headers: dict[str, str]) -> set[str]:
    return set(headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";"))


def blob() -> LocalBlob:
    return LocalBlob(io.BytesIO(DATA), "application/pdf")


def test_over_https_the_body_is_hashed_once_and_bound_by_the_signed_sha256(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = sent_headers(monkeypatch, "https://s3.example.test", blob())
    assert headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    assert headers["x-amz-checksum-sha256"] == b64_of_hex(sha(DATA))
    assert "x-amz-checksum-sha256" in signed_headers(headers)
    # Our SHA-256 is the only checksum: botocore adds no CRC32 and no MD5 of its own; the
    # algorithm is named (so every endpoint stores the checksum), no other value computed.
    assert not {"Content-MD5", "x-amz-checksum-crc32"} & set(headers)
    assert headers["x-amz-sdk-checksum-algorithm"] == "SHA256"
    assert "Expect" not in headers


def test_over_plain_http_the_payload_is_always_signed(monkeypatch: pytest.MonkeyPatch) -> None:
    headers = sent_headers(monkeypatch, "http://s3.example.test", blob())
    assert headers["X-Amz-Content-SHA256"] == sha(DATA)


def test_payload_signing_always(monkeypatch: pytest.MonkeyPatch) -> None:
    headers = sent_headers(
        monkeypatch, "https://s3.example.test", blob(), s3_payload_signing="always"
    )
    assert headers["X-Amz-Content-SHA256"] == sha(DATA)


class OneShot(io.RawIOBase):
    """A stream that hands out bytearrays and may be read through only once."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.reads = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytearray:
        self.reads += 1
        return bytearray(self._data.read(size))


def test_a_small_local_blob_is_read_once_and_sent_as_hashed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = OneShot(DATA)
    local = LocalBlob(stream, "application/pdf")  # type: ignore[arg-type]
    headers = sent_headers(monkeypatch, "http://s3.example.test", local)
    assert headers["x-amz-checksum-sha256"] == b64_of_hex(sha(DATA))
    assert headers["X-Amz-Content-SHA256"] == sha(DATA)  # the bytes sent are the bytes hashed
    assert stream.reads == 2  # the data, then end of stream; never re-read

"""Any valid request or result encodes and decodes to an equal model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import (
    BlobRef,
    FileFailure,
    FileFailureCode,
    RequestError,
    RequestErrorCode,
    StoredObject,
    UploadRequest,
    UploadResult,
    decode_request,
    decode_result,
    encode_request,
    encode_result,
    format_rfc3339,
    status_for,
)
from schemas.fields import (
    BLOB_URI_PATTERN,
    MIME_PATTERN,
    NAME_PATTERN,
    REQUEST_ID_PATTERN,
    USER_ID_PATTERN,
)

FAST = settings(max_examples=60, deadline=None)

names = st.from_regex(NAME_PATTERN, fullmatch=True)
request_ids = st.from_regex(REQUEST_ID_PATTERN, fullmatch=True)
user_ids = st.from_regex(USER_ID_PATTERN, fullmatch=True)
int_user_ids = st.integers(min_value=-(10**63) + 1, max_value=10**64 - 1)
sha256s = st.from_regex(r"[0-9a-f]{64}", fullmatch=True)
texts = st.text(max_size=40)
timestamps = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(9000, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    ),
)
metadata = st.dictionaries(texts, st.text(max_size=200), max_size=32)

blob_refs = st.builds(
    BlobRef,
    uri=st.from_regex(BLOB_URI_PATTERN, fullmatch=True) | st.just("s3://staging/a/b.jpg"),
    size=st.integers(min_value=0, max_value=2**63),
    sha256=sha256s,
    content_type=st.from_regex(MIME_PATTERN, fullmatch=True),
    filename=st.none() | texts,
)


@st.composite
def upload_requests(draw: st.DrawFn) -> tuple[UploadRequest, Any]:
    user_id = draw(user_ids | int_user_ids)
    request = UploadRequest(
        schema_version=1,
        request_id=draw(request_ids),
        user_id=user_id,
        file_category=draw(names),
        files=draw(st.dictionaries(names, blob_refs, min_size=1, max_size=4)),
        bucket=draw(st.none() | texts),
        max_workers=draw(st.none() | st.integers(min_value=1, max_value=64)),
        reply_topic=draw(st.none() | texts),
        created_at=draw(timestamps),
        attempt=draw(st.integers(min_value=1, max_value=1000)),
        replay_of=draw(st.none() | request_ids),
        metadata=draw(metadata),
    )
    return request, user_id


def _stored(bucket: str, sha256: str) -> StoredObject:
    return StoredObject(
        bucket=bucket,
        key=f"general/user_1/x/{sha256}",
        size=1,
        sha256=sha256,
        content_type="image/png",
        etag='"abc"',
        version_id=None,
    )


@st.composite
def upload_results(draw: st.DrawFn) -> UploadResult:
    bucket = draw(st.from_regex(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", fullmatch=True))
    file_types = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    rejected = draw(st.booleans())
    uploaded = [] if rejected else file_types[: draw(st.integers(0, len(file_types)))]
    failed = [] if rejected else [t for t in file_types if t not in uploaded]
    objects = {t: _stored(bucket, draw(sha256s)) for t in uploaded}
    started = draw(timestamps)
    return UploadResult(
        request_id=draw(request_ids),
        user_id=draw(user_ids),
        file_category=draw(names),
        attempt=draw(st.integers(min_value=1, max_value=50)),
        replay_of=draw(st.none() | request_ids),
        metadata=draw(metadata),
        bucket=bucket,
        status=status_for(uploaded=len(uploaded), failed=len(failed), rejected=rejected),
        urls={t: obj.url for t, obj in objects.items()},
        objects=objects,
        failures={
            t: FileFailure.of(draw(st.sampled_from(FileFailureCode)), draw(texts)) for t in failed
        },
        error=RequestError(code=draw(st.sampled_from(RequestErrorCode)), message=draw(texts))
        if rejected
        else None,
        started_at=started,
        finished_at=started + timedelta(milliseconds=draw(st.integers(0, 10**6))),
        duration_ms=draw(st.integers(min_value=0, max_value=10**6)),
        failed_sources={t: draw(blob_refs) for t in failed if draw(st.booleans())},
    )


@FAST
@given(upload_requests())
def test_request_round_trip(drawn: tuple[UploadRequest, Any]) -> None:
    request, user_id = drawn
    decoded = decode_request(encode_request(request))
    assert decoded == request
    assert decoded.user_id == str(user_id)
    assert isinstance(decoded.user_id, str)
    assert decoded.created_at == request.created_at
    assert decoded.created_at.utcoffset() == request.created_at.utcoffset()


@FAST
@given(upload_results())
def test_result_round_trip(result: UploadResult) -> None:
    assert decode_result(encode_result(result)) == result


@FAST
@given(timestamps)
def test_timestamps_format_losslessly(value: datetime) -> None:
    text = format_rfc3339(value)
    request = UploadRequest(
        schema_version=1,
        request_id="r",
        user_id="u",
        files={"a": BlobRef(uri="s3://bkt/k", size=0, sha256="0" * 64, content_type="a/b")},
        created_at=text,
    )
    assert request.created_at == value
    assert text.endswith("Z") == (value.utcoffset() == timedelta(0))


def test_int_user_id_comes_back_as_string() -> None:
    request = UploadRequest(
        schema_version=1,
        request_id="r1",
        user_id=42,
        files={"a": BlobRef(uri="s3://bkt/k", size=0, sha256="0" * 64, content_type="a/b")},
        created_at=datetime(2026, 1, 31, 12, tzinfo=UTC),
    )
    assert b'"user_id":"42"' in encode_request(request)
    assert decode_request(encode_request(request)).user_id == "42"

"""decode_request: every malformed value raises RequestDecodeError with the contract's code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas import RequestDecodeError, RequestErrorCode, decode_request, encode_request
from schemas.examples import example_request

INVALID_JSON = RequestErrorCode.INVALID_JSON
INVALID = RequestErrorCode.INVALID_REQUEST
UNSUPPORTED = RequestErrorCode.UNSUPPORTED_SCHEMA_VERSION
TOO_MANY = RequestErrorCode.TOO_MANY_FILES
SHA = "a" * 64
_DROP = object()  # a field to leave out


def _blob(**changes: Any) -> dict[str, Any]:
    blob: dict[str, Any] = {
        "uri": "s3://staging-bucket/in/1",
        "size": 3,
        "sha256": SHA,
        "content_type": "image/jpeg",
    }
    blob.update(changes)
    return {key: value for key, value in blob.items() if value is not _DROP}


def _request(**changes: Any) -> dict[str, Any]:
    data = example_request()
    data.update(changes)
    return {key: value for key, value in data.items() if value is not _DROP}


def _encode(data: Any) -> bytes:
    return json.dumps(data).encode("utf-8")


def _files(count: int) -> dict[str, Any]:
    return {f"f{i}": _blob() for i in range(count)}


def _decode_error(value: bytes | None, **kwargs: Any) -> RequestDecodeError:
    with pytest.raises(RequestDecodeError) as caught:
        decode_request(value, **kwargs)
    return caught.value


@pytest.mark.parametrize(
    ("value", "code"),
    [
        pytest.param(None, INVALID_JSON, id="no-value"),
        pytest.param(b"", INVALID_JSON, id="empty"),
        pytest.param(b"{not json", INVALID_JSON, id="not-json"),
        pytest.param(b'{"request_id": "\xff"}', INVALID_JSON, id="invalid-utf8"),
        pytest.param(b'{"size": NaN}', INVALID_JSON, id="nan"),
        pytest.param(b'{"size": Infinity}', INVALID_JSON, id="infinity"),
        pytest.param(b'{"size": -Infinity}', INVALID_JSON, id="minus-infinity"),
        pytest.param(b'{"a": "\\ud800"}', INVALID_JSON, id="lone-surrogate"),
        pytest.param(b"[" * 10_000 + b"]" * 10_000, INVALID_JSON, id="deep-nesting"),
        pytest.param(b"{} trailing", INVALID_JSON, id="trailing-garbage"),
        pytest.param(b"[1, 2]", INVALID, id="array"),
        pytest.param(b'"text"', INVALID, id="string"),
        pytest.param(b"null", INVALID, id="null"),
        pytest.param(b"42", INVALID, id="number"),
    ],
)
def test_unreadable_values_have_no_ids(value: bytes | None, code: RequestErrorCode) -> None:
    error = _decode_error(value)
    assert error.code is code
    assert (error.request_id, error.user_id, error.identifiable) == (None, None, False)


@pytest.mark.parametrize(
    ("version", "code"),
    [
        pytest.param(2, UNSUPPORTED, id="two"),
        pytest.param(0, UNSUPPORTED, id="zero"),
        pytest.param(-1, UNSUPPORTED, id="negative"),
        pytest.param("1", INVALID, id="string"),
        pytest.param(1.0, INVALID, id="float"),
        pytest.param(True, INVALID, id="bool"),
        pytest.param(None, INVALID, id="null"),
        pytest.param(_DROP, INVALID, id="missing"),
    ],
)
def test_schema_version(version: Any, code: RequestErrorCode) -> None:
    error = _decode_error(_encode(_request(schema_version=version)))
    assert error.code is code
    assert (error.request_id, error.user_id) == ("req-2026-01-31-0001", "123")


def test_unsupported_version_wins_over_every_other_rule() -> None:
    data = _request(schema_version=2, files=_files(500), created_at=5, attempt=0)
    error = _decode_error(_encode(data))
    assert error.code is UNSUPPORTED
    assert error.message == "schema_version: only version 1 is supported"


# (field, value, field named in the message)
REQUEST_RULES = [
    ("request_id", "", "request_id"),
    ("request_id", "r" * 129, "request_id"),
    ("request_id", "has space", "request_id"),
    ("request_id", "r/1", "request_id"),
    ("request_id", "r1\n", "request_id"),
    ("request_id", 17, "request_id"),
    ("user_id", "u" * 65, "user_id"),
    ("user_id", 10**64, "user_id"),
    ("user_id", "u.1", "user_id"),
    ("user_id", "", "user_id"),
    ("user_id", 12.0, "user_id"),
    ("user_id", True, "user_id"),
    ("user_id", None, "user_id"),
    ("file_category", "KYC", "file_category"),
    ("file_category", "_kyc", "file_category"),
    ("file_category", "kyc/docs", "file_category"),
    ("file_category", "k" * 64, "file_category"),
    ("files", {"Passport": _blob()}, "files.*.[key]"),
    ("files", {"../etc": _blob()}, "files.*.[key]"),
    ("files", {}, "files"),
    ("files", [_blob()], "files"),
    ("files", {"passport": "s3://b/k"}, "files.passport"),
    ("bucket", 5, "bucket"),
    ("bucket", ["a"], "bucket"),
    ("max_workers", 0, "max_workers"),
    ("max_workers", 65, "max_workers"),
    ("max_workers", "5", "max_workers"),
    ("max_workers", 2.0, "max_workers"),
    ("reply_topic", 1, "reply_topic"),
    ("created_at", _DROP, "created_at"),
    ("created_at", "yesterday", "created_at"),
    ("created_at", "2026-01-31T12:00:00", "created_at"),
    ("created_at", "2026-01-31 12:00:00Z", "created_at"),
    ("created_at", "2026-13-31T12:00:00Z", "created_at"),
    ("created_at", "2026-01-31T12:00:00Z\n", "created_at"),
    ("created_at", 1769860800, "created_at"),
    ("attempt", 0, "attempt"),
    ("attempt", "2", "attempt"),
    ("replay_of", "", "replay_of"),
    ("replay_of", "bad id", "replay_of"),
    ("metadata", {f"k{i}": "v" for i in range(33)}, "metadata"),
    ("metadata", {"note": "x" * 1025}, "metadata.note"),
    ("metadata", {"note": "é" * 513}, "metadata.note"),
    ("metadata", {"note": 5}, "metadata.note"),
    ("metadata", ["a"], "metadata"),
]


@pytest.mark.parametrize(
    ("field", "value", "named"),
    REQUEST_RULES,
    ids=[f"{field}-{i}" for i, (field, _, _) in enumerate(REQUEST_RULES)],
)
def test_request_field_rules(field: str, value: Any, named: str) -> None:
    error = _decode_error(_encode(_request(**{field: value})))
    assert error.code is INVALID
    assert error.message.startswith(f"{named}: ")
    if field not in ("request_id", "user_id"):
        assert (error.request_id, error.user_id) == ("req-2026-01-31-0001", "123")


BLOB_RULES = [
    ("uri", "http://example.com/a.jpg"),
    ("uri", "s3://Bucket/key"),
    ("uri", "s3://bucket/"),
    ("uri", "file://relative/path"),
    ("uri", "file:relative"),
    ("uri", "/etc/passwd"),
    ("uri", "s3://bucket/a\nb"),
    ("uri", "file:///tmp/a\x00b"),
    ("uri", "file:///tmp/a\x85b"),
    ("uri", _DROP),
    ("size", -1),
    ("size", "3"),
    ("size", 3.0),
    ("sha256", "A" * 64),
    ("sha256", "a" * 63),
    ("sha256", "g" * 64),
    ("content_type", "jpeg"),
    ("content_type", "image/jpeg; charset=x"),
    ("content_type", "image/"),
    ("filename", 7),
    ("filename", ["a.pdf"]),
]


@pytest.mark.parametrize(
    ("field", "value"),
    BLOB_RULES,
    ids=[f"{field}-{i}" for i, (field, _) in enumerate(BLOB_RULES)],
)
def test_blob_ref_field_rules(field: str, value: Any) -> None:
    data = _request(files={"passport": _blob(**{field: value})})
    error = _decode_error(_encode(data))
    assert error.code is INVALID
    assert error.message.startswith(f"files.passport.{field}: ")
    assert error.identifiable


def test_too_many_files_with_default_limit() -> None:
    error = _decode_error(_encode(_request(files=_files(101))))
    assert error.code is TOO_MANY
    assert error.message == "files: 101 files is more than the limit of 100"
    assert (error.request_id, error.user_id) == ("req-2026-01-31-0001", "123")


def test_hundred_files_are_allowed() -> None:
    assert len(decode_request(_encode(_request(files=_files(100)))).files) == 100


def test_custom_file_limit() -> None:
    value = _encode(_request(files=_files(3)))
    assert decode_request(value, max_files_per_request=3).files.keys() == {"f0", "f1", "f2"}
    error = _decode_error(value, max_files_per_request=2)
    assert (error.code, error.message) == (TOO_MANY, "files: 3 files is more than the limit of 2")


def test_too_many_files_is_counted_before_entries_are_validated() -> None:
    files = {f"BAD KEY {i}": "not a blob" for i in range(101)}
    error = _decode_error(_encode(_request(files=files, created_at="never")))
    assert error.code is TOO_MANY


@pytest.mark.parametrize(
    ("user_id", "expected"),
    [(123, "123"), (-5, "-5"), (0, "0"), ("abc_DEF-9", "abc_DEF-9"), (10**63, "1" + "0" * 63)],
)
def test_user_id_normalised_to_string(user_id: Any, expected: str) -> None:
    assert decode_request(_encode(_request(user_id=user_id))).user_id == expected


def test_ids_recovered_only_when_readable() -> None:
    bad_user = _decode_error(_encode(_request(user_id=True, attempt=0)))
    assert (bad_user.request_id, bad_user.user_id, bad_user.identifiable) == (
        "req-2026-01-31-0001",
        None,
        False,
    )
    bad_request_id = _decode_error(_encode(_request(request_id="a b", user_id=7)))
    assert (bad_request_id.request_id, bad_request_id.user_id) == (None, "7")


def test_unknown_fields_are_ignored() -> None:
    data = _request(priority="high", files={"passport": _blob(colour="blue")})
    request = decode_request(_encode(data))
    assert request.files["passport"].uri == "s3://staging-bucket/in/1"
    assert "priority" not in request.model_dump()


def test_defaults_applied() -> None:
    data = {
        key: value
        for key, value in _request().items()
        if key in ("schema_version", "request_id", "user_id", "files", "created_at")
    }
    request = decode_request(_encode(data))
    assert (request.file_category, request.attempt, request.metadata) == ("general", 1, {})
    assert (request.bucket, request.max_workers, request.reply_topic, request.replay_of) == (
        None,
        None,
        None,
        None,
    )


HOSTILE = "\x1b[31mDROP TABLE users;\n<script>"


@pytest.mark.parametrize(
    "data",
    [
        _request(request_id=HOSTILE),
        _request(files={HOSTILE: _blob()}),
        _request(metadata={HOSTILE: "x" * 2000}),
        _request(files={"passport": _blob(uri=HOSTILE, sha256=HOSTILE)}),
        _request(created_at=HOSTILE),
    ],
)
def test_messages_never_echo_hostile_values(data: dict[str, Any]) -> None:
    error = _decode_error(_encode(data))
    assert error.code is INVALID
    for fragment in ("DROP", "script", "\x1b", "\n"):
        assert fragment not in error.message
        assert fragment not in str(error)


def test_encoded_request_decodes_to_equal_model() -> None:
    request = decode_request(_encode(_request()))
    assert decode_request(encode_request(request)) == request

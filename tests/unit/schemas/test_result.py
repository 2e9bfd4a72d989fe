"""UploadResult consistency, the code tables and FileFailure.of."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from schemas import (
    FileFailure,
    FileFailureCode,
    RequestErrorCode,
    ResultDecodeError,
    ResultStatus,
    UnknownFileFailureCode,
    UploadResult,
    VerifiedBy,
    decode_result,
    encode_result,
    status_for,
)
from schemas.examples import example_result
from schemas.export import BUNDLED_DIR, render_all

RETRYABLE = {"throttled", "timeout", "network_error", "internal_error", "scan_failed"}


def _result(**changes: Any) -> dict[str, Any]:
    data = example_result()
    data.update(changes)
    return data


def _decode(data: dict[str, Any]) -> UploadResult:
    return decode_result(json.dumps(data).encode())


def test_example_result_decodes() -> None:
    result = _decode(_result())
    assert result.status is ResultStatus.PARTIAL
    assert result.failures["selfie"].code is FileFailureCode.CHECKSUM_MISMATCH
    assert result.objects["passport"].url == result.urls["passport"]
    assert result.failed_sources["selfie"].uri == "file:///var/spool/uploads/123/selfie.jpg"


def test_failed_sources_is_optional() -> None:
    data = _result()
    del data["failed_sources"]
    assert _decode(data).failed_sources == {}


def test_verified_by_is_optional_and_read_when_present() -> None:
    assert _decode(_result()).objects["passport"].verified_by is VerifiedBy.PUT_CHECKSUM
    data = _result()
    del data["objects"]["passport"]["verified_by"]  # a result of an older writer
    assert _decode(data).objects["passport"].verified_by is None
    schema = json.loads(render_all()["upload-result.v1.schema.json"])
    stored = schema["$defs"]["StoredObject"]
    assert "verified_by" in stored["properties"]
    assert "verified_by" not in stored["required"]


def test_verified_by_values_match_the_contract() -> None:
    assert {v.value for v in VerifiedBy} == {
        "put_checksum",
        "part_checksums",
        "copy_checksum",
        "head_checksum",
        "read_back",
    }


def test_unknown_verified_by_is_rejected() -> None:
    data = _result()
    data["objects"]["passport"]["verified_by"] = "trust_me"
    with pytest.raises(ResultDecodeError):
        _decode(data)


def test_file_failure_codes_match_the_contract_table() -> None:
    assert {code.value for code in FileFailureCode} == {
        "source_not_allowed",
        "source_not_found",
        "source_unreadable",
        "size_mismatch",
        "checksum_mismatch",
        "too_large",
        "content_type_not_allowed",
        "content_type_mismatch",
        "malware_detected",
        "destination_denied",
        "destination_not_found",
        *RETRYABLE,
    }
    assert {code.value for code in FileFailureCode if code.retryable} == RETRYABLE


def test_request_error_codes_match_the_contract() -> None:
    assert [code.value for code in RequestErrorCode] == [
        "invalid_json",
        "invalid_request",
        "unsupported_schema_version",
        "too_many_files",
        "bucket_not_allowed",
        "reply_topic_not_allowed",
    ]


@pytest.mark.parametrize("code", list(FileFailureCode))
def test_file_failure_of_follows_the_table(code: FileFailureCode) -> None:
    failure = FileFailure.of(code, "why")
    assert (failure.code, failure.message, failure.retryable) == (
        code,
        "why",
        code.value in RETRYABLE,
    )


def test_file_failure_with_wrong_retryable_is_rejected() -> None:
    with pytest.raises(ValidationError, match="retryable must be True for timeout"):
        FileFailure(code=FileFailureCode.TIMEOUT, message="slow", retryable=False)


def test_messages_with_lone_surrogates_are_repaired() -> None:
    failure = FileFailure.of(FileFailureCode.SOURCE_NOT_FOUND, "no file b'\udcff.jpg'")
    assert failure.message == "no file b'\ufffd.jpg'"


@pytest.mark.parametrize(
    ("uploaded", "failed", "rejected", "status"),
    [
        (3, 0, False, ResultStatus.SUCCEEDED),
        (2, 1, False, ResultStatus.PARTIAL),
        (0, 3, False, ResultStatus.FAILED),
        (0, 0, False, ResultStatus.FAILED),
        (0, 0, True, ResultStatus.FAILED),
    ],
)
def test_status_for(uploaded: int, failed: int, rejected: bool, status: ResultStatus) -> None:
    assert status_for(uploaded=uploaded, failed=failed, rejected=rejected) is status


def _rejected() -> dict[str, Any]:
    return _result(
        status="failed",
        urls={},
        objects={},
        failures={},
        failed_sources={},
        error={"code": "too_many_files", "message": "files: 101 files is more than 100"},
    )


def test_rejected_result_is_consistent() -> None:
    result = _decode(_rejected())
    assert result.error is not None
    assert (result.status, result.error.code) == (
        ResultStatus.FAILED,
        RequestErrorCode.TOO_MANY_FILES,
    )


def _succeeded() -> dict[str, Any]:
    return _result(status="succeeded", failures={}, failed_sources={})


INCONSISTENT = [
    ("status-succeeded-with-failure", _result(status="succeeded"), "does not match"),
    ("status-failed-with-upload", _result(status="failed"), "does not match"),
    ("status-partial-all-uploaded", _succeeded() | {"status": "partial"}, "does not match"),
    ("rejected-not-failed", _rejected() | {"status": "partial"}, "does not match"),
    (
        "rejected-with-failures",
        _rejected() | {"failures": example_result()["failures"]},
        "rejected request has no per-file",
    ),
    ("url-without-object", _succeeded() | {"objects": {}}, "same file types"),
    (
        "url-mismatch",
        _succeeded() | {"urls": {"passport": "s3://elsewhere/key"}},
        "does not match objects",
    ),
    (
        "both-succeeded-and-failed",
        _result(failures={"passport": {"code": "timeout", "message": "m", "retryable": True}}),
        "both succeed and fail",
    ),
    (
        "failed-source-not-failed",
        _succeeded() | {"failed_sources": example_result()["failed_sources"]},
        "failed_sources may only name",
    ),
]


@pytest.mark.parametrize(
    ("data", "reason"),
    [pytest.param(data, reason, id=name) for name, data, reason in INCONSISTENT],
)
def test_inconsistent_results_are_rejected(data: dict[str, Any], reason: str) -> None:
    with pytest.raises(ResultDecodeError, match=reason):
        _decode(data)


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"not json",
        json.dumps(_result(schema_version=2)).encode(),
        json.dumps(_result(duration_ms="360")).encode(),
        json.dumps(_result(status="done")).encode(),
        json.dumps(_result(user_id=True)).encode(),
    ],
)
def test_unreadable_results_raise_result_decode_error(value: bytes | None) -> None:
    with pytest.raises(ResultDecodeError):
        decode_result(value)


# -- the evolution rule (contract: "How readers treat what they do not know") -----------

_BEFORE_GATE = Path(__file__).parent / "data" / "upload-result.v1.before-content-gate.schema.json"


def test_an_older_readers_schema_still_accepts_todays_objects() -> None:
    # The exported schema as it was before the content gate: a reader validating with it
    # keeps working, since the new object fields are optional additions it ignores.
    old = Draft202012Validator(json.loads(_BEFORE_GATE.read_text(encoding="utf-8")))
    today = example_result()
    assert today["objects"]["passport"]["scan"]["verdict"] == "clean"
    assert list(old.iter_errors(today)) == []
    # What the older reader sees of the object is what it always saw.
    v1_fields = {"bucket", "key", "size", "sha256", "content_type", "etag", "version_id"}
    seen = {k: v for k, v in today["objects"]["passport"].items() if k in v1_fields}
    assert set(seen) == v1_fields
    assert _decode(today).objects["passport"].model_dump(include=v1_fields) == seen


def _with_failure(code: str, retryable: bool) -> dict[str, Any]:
    data = example_result()
    data["failures"]["selfie"] = {
        "code": code,
        "message": "from a newer writer",
        "retryable": retryable,
    }
    return data


@pytest.mark.parametrize("retryable", [True, False])
def test_an_unknown_failure_code_is_a_failure_that_is_not_retryable(retryable: bool) -> None:
    result = _decode(_with_failure("quarantined_for_review", retryable))
    failure = result.failures["selfie"]
    assert isinstance(failure.code, UnknownFileFailureCode)
    assert (failure.code.value, failure.retryable) == ("quarantined_for_review", False)
    assert result.status is ResultStatus.PARTIAL
    assert (
        json.loads(encode_result(result))["failures"]["selfie"]["code"] == "quarantined_for_review"
    )
    schema = Draft202012Validator(
        json.loads((BUNDLED_DIR / "upload-result.v1.schema.json").read_text())
    )
    assert list(schema.iter_errors(_with_failure("quarantined_for_review", False))) == []


@pytest.mark.parametrize("code", ["content_type_mismatch", "malware_detected", "scan_failed"])
def test_the_gate_codes_are_known_codes(code: str) -> None:
    failure = _decode(_with_failure(code, code == "scan_failed")).failures["selfie"]
    assert failure.code is FileFailureCode(code)
    assert failure.retryable is (code == "scan_failed")


@pytest.mark.parametrize("code", ["", "Upper", "has space", "x" * 65, "9starts_with_digit"])
def test_a_failure_code_must_still_look_like_one(code: str) -> None:
    with pytest.raises(ResultDecodeError):
        _decode(_with_failure(code, False))

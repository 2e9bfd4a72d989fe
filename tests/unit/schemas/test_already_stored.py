"""`already_stored`, the optional addition naming files found already in the destination."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from consumer.results import result_from_outcome
from schemas import UploadResult, decode_result, encode_result
from schemas.examples import example_result
from upload_engine.model import UploadOutcome


def _decode(data: dict[str, Any]) -> UploadResult:
    return UploadResult.model_validate(data, strict=False)


def test_it_is_optional_and_empty_by_default() -> None:
    assert _decode(example_result()).already_stored == []


def test_it_round_trips() -> None:
    result = _decode({**example_result(), "already_stored": ["passport"]})
    assert decode_result(encode_result(result)).already_stored == ["passport"]


def test_it_names_only_uploaded_file_types() -> None:
    with pytest.raises(ValidationError, match="already_stored may only name"):
        _decode({**example_result(), "already_stored": ["selfie"]})


def test_the_outcome_fills_it() -> None:
    stored = _decode(example_result()).objects["passport"]
    outcome = UploadOutcome(objects={"passport": stored}, already_stored=frozenset({"passport"}))
    result = result_from_outcome(
        request_id="r1", user_id="123", file_category="kyc", bucket="b", outcome=outcome
    )
    assert result.already_stored == ["passport"]

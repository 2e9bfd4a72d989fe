"""The bundled JSON Schema files match the models, and accept what the models accept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from schemas import decode_request, decode_result, encode_request, encode_result
from schemas.examples import example_request, example_result
from schemas.export import BUNDLED_DIR, render_all

REGENERATE = "regenerate with: upload-stream schemas export schemas/jsonschema"


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((BUNDLED_DIR / name).read_text(encoding="utf-8"))
    return schema


def _validator(name: str) -> Draft202012Validator:
    schema = _schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


REQUEST = "upload-request.v1.schema.json"
RESULT = "upload-result.v1.schema.json"
BLOB = "blob-ref.v1.schema.json"


def test_bundled_files_match_the_models() -> None:
    rendered = render_all()
    bundled = {path.name: path.read_text(encoding="utf-8") for path in BUNDLED_DIR.glob("*.json")}
    assert sorted(bundled) == sorted(rendered), REGENERATE
    for name, text in rendered.items():
        assert bundled[name] == text, f"{name} drifted from the models; {REGENERATE}"


def test_files_are_named_and_identified() -> None:
    assert sorted(render_all()) == [BLOB, REQUEST, RESULT]
    for name in (BLOB, REQUEST, RESULT):
        Draft202012Validator.check_schema(schema := _schema(name))
        assert schema["$id"] == f"https://upload-stream.dev/schemas/{name}"
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def _valid_requests() -> list[dict[str, Any]]:
    minimal = {
        key: value
        for key, value in example_request().items()
        if key in ("schema_version", "request_id", "user_id", "files", "created_at")
    }
    string_user = example_request() | {"user_id": "user-abc_1", "metadata": {"k": "é" * 512}}
    return [example_request(), minimal, string_user]


@pytest.mark.parametrize("data", _valid_requests())
def test_valid_requests_validate(data: dict[str, Any]) -> None:
    assert list(_validator(REQUEST).iter_errors(data)) == []
    # ...and so does the request as this project encodes it.
    encoded = json.loads(encode_request(decode_request(json.dumps(data).encode())))
    assert list(_validator(REQUEST).iter_errors(encoded)) == []


@pytest.mark.parametrize(
    ("change", "keyword"),
    [
        ({"schema_version": 2}, "const"),
        ({"user_id": 1.5}, "anyOf"),
        ({"user_id": True}, "anyOf"),
        ({"request_id": "a b"}, "pattern"),
        ({"files": {}}, "minProperties"),
        ({"files": {"Passport": example_request()["files"]["passport"]}}, "propertyNames"),
        ({"max_workers": 65}, "anyOf"),
        ({"metadata": {f"k{i}": "v" for i in range(33)}}, "maxProperties"),
        ({"metadata": {"k": "x" * 1025}}, "maxLength"),
        ({"created_at": 5}, "type"),
        ({"attempt": 0}, "minimum"),
    ],
)
def test_invalid_requests_do_not_validate(change: dict[str, Any], keyword: str) -> None:
    errors = list(_validator(REQUEST).iter_errors(example_request() | change))
    assert len(errors) == 1
    assert keyword in errors[0].relative_schema_path


def test_missing_required_field_does_not_validate() -> None:
    data = example_request()
    del data["files"]
    errors = list(_validator(REQUEST).iter_errors(data))
    assert [(e.validator, e.message) for e in errors] == [
        ("required", "'files' is a required property")
    ]


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        ({}, True),
        ({"uri": "http://example.com/a"}, False),
        ({"uri": "file://relative"}, False),
        ({"sha256": "A" * 64}, False),
        ({"size": -1}, False),
        ({"content_type": "jpeg"}, False),
    ],
)
def test_blob_ref_schema(change: dict[str, Any], valid: bool) -> None:
    data = example_request()["files"]["passport"] | change
    assert _validator(BLOB).is_valid(data) is valid


def test_encoded_result_validates() -> None:
    result = decode_result(json.dumps(example_result()).encode())
    assert list(_validator(RESULT).iter_errors(json.loads(encode_result(result)))) == []


def test_result_without_the_optional_addition_validates() -> None:
    data = example_result()
    del data["failed_sources"]
    assert _validator(RESULT).is_valid(data)


@pytest.mark.parametrize(
    "change",
    [{"status": "done"}, {"user_id": 123}, {"failures": {"x": {"code": "nope"}}}, {"error": 1}],
)
def test_invalid_results_do_not_validate(change: dict[str, Any]) -> None:
    assert not _validator(RESULT).is_valid(example_result() | change)


def test_bundled_dir_is_inside_the_package() -> None:
    assert Path(__file__).parents[3] / "schemas" / "jsonschema" == BUNDLED_DIR

"""upload_engine.mime: the one rule for a file's content type (staging, AWSService and the
engine's allowlist all use it)."""

from __future__ import annotations

import pytest

from schemas.keys import EXTENSION_FOR_CONTENT_TYPE
from upload_engine.mime import content_type_allowed, content_type_of, is_mime_type


@pytest.mark.parametrize(
    ("declared", "filename", "expected"),
    [
        (("application/pdf",), None, "application/pdf"),
        (("Image/JPEG; charset=binary",), "scan.pdf", "image/jpeg"),
        ((None, "image/PNG"), None, "image/png"),  # the first valid declared value wins
        (("", "not a type"), "clip.mov", "video/quicktime"),
        (("text/html\r\nX-Evil: 1",), "a.pdf", "application/pdf"),
        ((), "photo.JPEG", "image/jpeg"),
        ((), "scan.tif", "image/tiff"),
        ((), "page.xml", "application/xml"),  # the contract's table, not the platform's
        ((), "page.html", "application/octet-stream"),  # never guessed outside the table
        ((), "noext", "application/octet-stream"),
        ((), None, "application/octet-stream"),
    ],
)
def test_content_type_of(declared: tuple[object, ...], filename: str | None, expected: str) -> None:
    assert content_type_of(*declared, filename=filename) == expected


def test_every_extension_of_the_contract_names_a_type_of_the_contract() -> None:
    for content_type, extension in EXTENSION_FOR_CONTENT_TYPE.items():
        guessed = content_type_of(filename=f"f{extension}")
        assert EXTENSION_FOR_CONTENT_TYPE[guessed] == extension, content_type


@pytest.mark.parametrize(
    ("value", "valid"),
    [("image/jpeg", True), ("Image/JPEG", True), ("image", False), ("a/b c", False), (7, False)],
)
def test_is_mime_type(value: object, valid: bool) -> None:
    assert is_mime_type(value) is valid


@pytest.mark.parametrize(
    ("content_type", "allowed", "expected"),
    [
        ("image/png", [], True),
        ("image/png", ["image/*"], True),
        ("IMAGE/PNG", ["image/png"], True),
        ("application/pdf", ["image/*"], False),
        ("not a type", [], False),
    ],
)
def test_content_type_allowed(content_type: str, allowed: list[str], expected: bool) -> None:
    assert content_type_allowed(content_type, allowed) is expected

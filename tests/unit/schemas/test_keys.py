"""destination_key and file_extension: exact examples, and no accepted input escapes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import KEY_PATTERN, BlobRef, destination_key, file_extension
from schemas.errors import InvalidKeyPartError, SchemaError
from schemas.fields import MIME_PATTERN, NAME_PATTERN, USER_ID_PATTERN
from schemas.keys import EXTENSION_FOR_CONTENT_TYPE

SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
FAST = settings(max_examples=150, deadline=None)


def _key(filename: str | None, content_type: str = "application/octet-stream") -> str:
    return destination_key(
        file_category="kyc_documents",
        user_id="123",
        file_type="passport",
        sha256=SHA,
        filename=filename,
        content_type=content_type,
    )


def test_contract_example() -> None:
    assert _key("scan.pdf") == f"kyc_documents/user_123/passport/{SHA}.pdf"


@pytest.mark.parametrize(
    ("filename", "content_type", "extension"),
    [
        ("Passport.PDF", "application/pdf", ".pdf"),
        ("photo.JpEg", "image/png", ".jpeg"),
        ("archive.tar.gz", "application/zip", ".gz"),
        (".bashrc", "text/plain", ".txt"),
        ("..bashrc", "image/png", ".png"),
        ("file.abcdefghijk", "image/jpeg", ".jpg"),
        ("file.abcdefghij", "image/jpeg", ".abcdefghij"),
        ("../../etc/passwd", "image/png", ".png"),
        ("../../etc/passwd", "application/x-unknown", ""),
        ("C:\\Users\\me\\ID.Png", "image/jpeg", ".png"),
        ("dir/scan.tiff", "image/jpeg", ".tiff"),
        ("trailing.", "application/pdf", ".pdf"),
        ("x.pdf\n", "image/jpeg", ".jpg"),
        ("x.p-f", "image/jpeg", ".jpg"),
        ("x.\u212a", "image/jpeg", ".jpg"),  # KELVIN SIGN: its lower case is ASCII "k"
        ("x.\uff30\uff24\uff26", "image/jpeg", ".jpg"),  # fullwidth PDF is not [A-Za-z0-9]
        (None, "image/jpeg", ".jpg"),
        ("", "IMAGE/JPEG", ".jpg"),
        (None, "image/jpeg; charset=binary", ".jpg"),
        (None, "application/x-unknown", ""),
    ],
)
def test_file_extension(filename: str | None, content_type: str, extension: str) -> None:
    assert file_extension(filename, content_type) == extension


def test_key_uses_fallback_and_empty_extension() -> None:
    assert _key(".bashrc", "image/png") == f"kyc_documents/user_123/passport/{SHA}.png"
    assert _key(None) == f"kyc_documents/user_123/passport/{SHA}"


@pytest.mark.parametrize(
    ("part", "value"),
    [
        ("file_category", "../x"),
        ("file_category", "KYC"),
        ("user_id", "1/2"),
        ("user_id", ""),
        ("file_type", "a b"),
        ("sha256", SHA.upper()),
        ("sha256", SHA + "\n"),
    ],
)
def test_invalid_parts_raise(part: str, value: str) -> None:
    parts = {
        "file_category": "kyc",
        "user_id": "1",
        "file_type": "passport",
        "sha256": SHA,
        part: value,
    }
    with pytest.raises(InvalidKeyPartError, match=f"^{part} does not match") as caught:
        destination_key(filename=None, content_type="image/png", **parts)
    assert isinstance(caught.value, SchemaError)
    assert isinstance(caught.value, ValueError)


def test_every_table_extension_fits_the_key_rule() -> None:
    assert all(
        re.fullmatch(r"\.[a-z0-9]{1,10}", ext) for ext in EXTENSION_FOR_CONTENT_TYPE.values()
    )


_names = st.from_regex(NAME_PATTERN, fullmatch=True)
_filenames = st.none() | st.text() | st.from_regex(r"[^/]{0,20}\.[A-Za-z0-9]{1,12}", fullmatch=True)
_content_types = st.sampled_from(sorted(EXTENSION_FOR_CONTENT_TYPE)) | st.from_regex(
    MIME_PATTERN, fullmatch=True
)


@FAST
@given(
    file_category=_names,
    user_id=st.from_regex(USER_ID_PATTERN, fullmatch=True),
    file_type=_names,
    sha256=st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
    filename=_filenames,
    content_type=_content_types,
)
def test_no_accepted_input_escapes_the_key_pattern(
    file_category: str,
    user_id: str,
    file_type: str,
    sha256: str,
    filename: str | None,
    content_type: str,
) -> None:
    # The BlobRef model must accept these, so the inputs are ones the service can meet.
    blob = BlobRef(
        uri="s3://bkt/k", size=0, sha256=sha256, content_type=content_type, filename=filename
    )
    key = destination_key(
        file_category=file_category,
        user_id=user_id,
        file_type=file_type,
        sha256=blob.sha256,
        filename=blob.filename,
        content_type=blob.content_type,
    )
    assert re.fullmatch(KEY_PATTERN, key)
    assert key.startswith(f"{file_category}/user_{user_id}/{file_type}/{sha256}")
    assert ".." not in key
    assert "//" not in key
    assert not key.startswith("/")
    assert "\\" not in key
    assert key.isascii() and key.isprintable()
    assert key.count("/") == 3

"""The destination key: `{file_category}/user_{user_id}/{file_type}/{sha256}{ext}`.

Content-addressed, so the same bytes always land on the same key and a redelivered or
replayed request never makes a second object. Every part is re-checked here even though
the models already validated it: this function builds S3 keys, and a key that escapes its
prefix must be impossible, not merely unlikely.
"""

from __future__ import annotations

import re

from schemas.errors import InvalidKeyPartError
from schemas.fields import NAME_PATTERN, SHA256_PATTERN, USER_ID_PATTERN

KEY_PATTERN = (
    r"^[a-z0-9][a-z0-9_-]{0,62}/user_[A-Za-z0-9_-]{1,64}/[a-z0-9][a-z0-9_-]{0,62}"
    r"/[0-9a-f]{64}(\.[a-z0-9]{1,10})?$"
)

_NAME = re.compile(NAME_PATTERN)
_USER = re.compile(USER_ID_PATTERN)
_SHA = re.compile(SHA256_PATTERN)
# Checked before lower-casing, so no non-ASCII letter can lower-case into the range.
_EXT = re.compile(r"[A-Za-z0-9]{1,10}")
_KEY = re.compile(KEY_PATTERN)

# A fixed table rather than the `mimetypes` module: that one reads /etc/mime.types, so
# the same request would get different keys on different machines.
EXTENSION_FOR_CONTENT_TYPE: dict[str, str] = {
    "image/jpeg": ".jpg",
    "image/pjpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "image/heif": ".heif",
    "image/tiff": ".tiff",
    "image/bmp": ".bmp",
    "image/svg+xml": ".svg",
    "application/pdf": ".pdf",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "video/x-msvideo": ".avi",
    "video/3gpp": ".3gp",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "application/json": ".json",
    "application/xml": ".xml",
    "application/zip": ".zip",
    "application/msword": ".doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}


def file_extension(filename: str | None, content_type: str) -> str:
    """The key's extension, with its dot: from `filename`, else from `content_type`, else ''.

    From `filename` only when its last suffix is 1-10 ASCII letters or digits (lower-cased)
    and the name is not a dot-file like `.bashrc`. A `content_type` parameter
    (`; charset=...`) is ignored.
    """
    if filename:
        # Only the last path segment's last suffix counts; both separators, since the name
        # may come from any client OS.
        base = re.split(r"[/\\]", filename)[-1]
        stem, dot, suffix = base.rpartition(".")
        if dot and stem.strip(".") and _EXT.fullmatch(suffix):
            return "." + suffix.lower()
    media_type = content_type.split(";", 1)[0].strip().lower()
    return EXTENSION_FOR_CONTENT_TYPE.get(media_type, "")


def destination_key(
    *,
    file_category: str,
    user_id: str,
    file_type: str,
    sha256: str,
    filename: str | None,
    content_type: str,
) -> str:
    """The content-addressed destination key of one file (contract: "Destination key").

    Raises `InvalidKeyPartError` when a part breaks its rule.
    """
    for label, value, rule in (
        ("file_category", file_category, _NAME),
        ("user_id", user_id, _USER),
        ("file_type", file_type, _NAME),
        ("sha256", sha256, _SHA),
    ):
        if not rule.fullmatch(value):
            raise InvalidKeyPartError(f"{label} does not match {rule.pattern}")
    key = (
        f"{file_category}/user_{user_id}/{file_type}/{sha256}"
        f"{file_extension(filename, content_type)}"
    )
    if not _KEY.fullmatch(key):  # defence in depth: cannot happen given the checks above
        raise InvalidKeyPartError("key does not match the documented pattern")
    return key

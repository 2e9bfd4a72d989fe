"""Which MIME type a file has: the one owner of that question for the producer library's
staging, AWSService and the engine's allowlist.

- Valid means the contract's pattern for `content_type` (`schemas.fields.MIME_PATTERN`,
  docs/contract/upload-events-v1.md).
- A declared type counts when it is valid once its parameters are dropped
  (`image/JPEG; charset=binary` is `image/jpeg`); types are lower-cased.
- Otherwise the file name's extension names it, through the contract's own table of
  types and key extensions (`schemas.keys.EXTENSION_FOR_CONTENT_TYPE`), so a type is never
  guessed outside that table; else `application/octet-stream`.

Whether a file's bytes agree with its declared type is another question (content sniffing,
not answered here).
"""

from __future__ import annotations

import os
import re

from schemas.fields import MIME_PATTERN
from schemas.keys import EXTENSION_FOR_CONTENT_TYPE

DEFAULT_CONTENT_TYPE = "application/octet-stream"
_MIME = re.compile(MIME_PATTERN)

# The contract's table reversed; the first type listed for an extension wins (".jpg" ->
# image/jpeg, not image/pjpeg), plus the common spellings the table does not list.
CONTENT_TYPE_FOR_EXTENSION: dict[str, str] = {}
for _type, _ext in EXTENSION_FOR_CONTENT_TYPE.items():
    CONTENT_TYPE_FOR_EXTENSION.setdefault(_ext, _type)
CONTENT_TYPE_FOR_EXTENSION[".jpeg"] = "image/jpeg"
CONTENT_TYPE_FOR_EXTENSION[".tif"] = "image/tiff"


def is_mime_type(value: object) -> bool:
    """A string matching the contract's MIME-type pattern (any case)."""
    return isinstance(value, str) and _MIME.fullmatch(value) is not None


def content_type_of(*declared: object, filename: str | None) -> str:
    """The first of `declared` that is a MIME type once its parameters are dropped, else
    the type `filename`'s extension names, else application/octet-stream; lower-case."""
    for candidate in declared:
        if isinstance(candidate, str):
            bare = candidate.split(";", 1)[0].strip()
            if is_mime_type(bare):
                return bare.lower()
    if filename:
        extension = os.path.splitext(filename)[1].lower()
        if extension in CONTENT_TYPE_FOR_EXTENSION:
            return CONTENT_TYPE_FOR_EXTENSION[extension]
    return DEFAULT_CONTENT_TYPE


def content_type_allowed(content_type: str, allowed: list[str]) -> bool:
    """Exact match or `type/*`, case-insensitive; an empty list allows any valid type."""
    if not is_mime_type(content_type):
        return False
    if not allowed:
        return True
    wanted = content_type.lower()
    major = wanted.partition("/")[0]
    return any(item.lower() in (wanted, f"{major}/*") for item in allowed)

"""Field types shared by the event models, each carrying one rule of the contract.

Every string that can end up in an S3 key or a file path is pinned to a narrow pattern
here, so hostile values are rejected at the edge instead of being escaped later. Free
text (file names, metadata, messages) must at least be valid Unicode, or encoding the
event again would fail after it had been accepted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

# Every event model's config. Strict: the wire has JSON types, and "12" is not a size.
# Unknown fields are ignored, as the contract requires of readers, so optional additions do
# not break us.
WIRE_MODEL_CONFIG = ConfigDict(strict=True, extra="ignore", frozen=True)

REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
USER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# file_category and every file_type share this rule.
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
# RFC 6838 type/subtype, no parameters.
MIME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
# Control characters (C0, DEL and C1) are never legitimate in a URI and would leak into
# logs and keys.
BLOB_URI_PATTERN = (
    r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^\x00-\x1f\x7f-\x9f]+"
    r"|file:///[^\x00-\x1f\x7f-\x9f]+)$"
)
TOPIC_PATTERN = r"^[A-Za-z0-9._-]{1,249}$"

DEFAULT_MAX_FILES_PER_REQUEST = 100
MAX_METADATA_ENTRIES = 32
MAX_METADATA_VALUE_BYTES = 1024
MAX_WORKERS_LIMIT = 64

# ASCII digits only: `\d` would also match e.g. Arabic-Indic digits.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_SURROGATE = re.compile(r"[\ud800-\udfff]")

# JSON Schema for the maps keyed by file_type: every key, not only the matching ones.
FILE_TYPE_KEYS: dict[str, Any] = {"propertyNames": {"pattern": NAME_PATTERN}}


def _user_id_to_str(value: Any) -> Any:
    # The contract accepts ints and normalises them; bool is an int in Python but not on the wire.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _exact_int(value: Any) -> Any:
    # A strict Literal[1] still takes `true` and `1.0`; the wire type is an integer.
    if isinstance(value, bool | float):
        raise ValueError("must be the integer 1")
    return value


def _parse_rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("timestamp must carry a UTC offset")
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 timestamp string, e.g. 2026-01-31T12:00:00Z")
    # Python keeps microseconds only; RFC 3339 allows nanoseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.upper().replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        # fromisoformat's own message quotes the input.
        raise ValueError("must be a valid RFC 3339 date and time") from None


def format_rfc3339(value: datetime) -> str:
    """RFC 3339 text of an aware datetime; UTC ends in `Z`, sub-seconds are kept exactly.

    Raises ValueError for a naive datetime, which has no RFC 3339 form.
    """
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("a naive datetime has no RFC 3339 form; give it a timezone")
    timespec = "milliseconds" if value.microsecond % 1000 == 0 else "microseconds"
    # RFC 3339 offsets are whole minutes; anything else is written in UTC.
    if not offset or offset % timedelta(minutes=1):
        return value.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
    return value.isoformat(timespec=timespec)


def _valid_unicode(value: str) -> str:
    # A lone surrogate (from surrogateescape'd file names, say) cannot be encoded as UTF-8.
    if not value.isascii() and _SURROGATE.search(value):
        raise ValueError("must be valid Unicode text (no lone surrogates)")
    return value


def _replace_surrogates(value: Any) -> Any:
    # Messages are built by the service from exception texts: repair, never reject them.
    if isinstance(value, str) and not value.isascii():
        return _SURROGATE.sub("\ufffd", value)
    return value


def _small_value(value: str) -> str:
    if len(value.encode("utf-8")) > MAX_METADATA_VALUE_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_VALUE_BYTES} bytes of UTF-8")
    return value


SchemaVersion = Annotated[Literal[1], BeforeValidator(_exact_int)]
RequestId = Annotated[str, StringConstraints(pattern=REQUEST_ID_PATTERN)]
UserId = Annotated[
    str,
    BeforeValidator(_user_id_to_str),
    StringConstraints(pattern=USER_ID_PATTERN),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": USER_ID_PATTERN},
                {"type": "integer"},
            ],
            "description": "Normalised to a string of 1-64 chars of [A-Za-z0-9_-].",
        },
        mode="validation",
    ),
]
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Sha256Hex = Annotated[str, StringConstraints(pattern=SHA256_PATTERN)]
MimeType = Annotated[str, StringConstraints(pattern=MIME_PATTERN)]
BlobUri = Annotated[str, StringConstraints(pattern=BLOB_URI_PATTERN)]
Text = Annotated[str, AfterValidator(_valid_unicode)]
Message = Annotated[str, BeforeValidator(_replace_surrogates)]
MetadataValue = Annotated[
    str,
    AfterValidator(_valid_unicode),
    AfterValidator(_small_value),
    # JSON Schema counts characters, not bytes: 1024 characters is the nearest bound.
    Field(json_schema_extra={"maxLength": MAX_METADATA_VALUE_BYTES}),
]
Metadata = Annotated[
    dict[Text, MetadataValue],
    Field(
        max_length=MAX_METADATA_ENTRIES,
        description=f"Echoed on the result; at most {MAX_METADATA_ENTRIES} entries, each "
        f"value at most {MAX_METADATA_VALUE_BYTES} bytes of UTF-8.",
    ),
]
Timestamp = Annotated[
    datetime,
    BeforeValidator(_parse_rfc3339),
    PlainSerializer(format_rfc3339, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
NonNegativeInt = Annotated[int, Field(ge=0)]

"""Field types shared by the event models, each carrying one rule of the contract.

Every string that can end up in an S3 key or a file path is pinned to a narrow pattern
here, so hostile values are rejected at the edge instead of being escaped later.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
USER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# file_category and every file_type share this rule.
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
# RFC 6838 type/subtype, no parameters.
MIME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
# Control characters are never legitimate in a URI and would leak into logs and keys.
BLOB_URI_PATTERN = (
    r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^\x00-\x1f\x7f]+|file:///[^\x00-\x1f\x7f]+)$"
)
TOPIC_PATTERN = r"^[A-Za-z0-9._-]{1,249}$"

DEFAULT_MAX_FILES_PER_REQUEST = 100
MAX_METADATA_ENTRIES = 32
MAX_METADATA_VALUE_BYTES = 1024
MAX_WORKERS_LIMIT = 64

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)


def _user_id_to_str(value: Any) -> Any:
    # The contract accepts ints and normalises them; bool is an int in Python but not on the wire.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _parse_rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("timestamp must carry a UTC offset")
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 timestamp string, e.g. 2026-01-31T12:00:00Z")
    # Python keeps microseconds only; RFC 3339 allows nanoseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.replace("z", "Z").replace("Z", "+00:00"))
    return datetime.fromisoformat(text)


def format_rfc3339(value: datetime) -> str:
    """UTC timestamps end in `Z`, the form most readers expect."""
    if value.utcoffset() == UTC.utcoffset(None):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value.isoformat(timespec="milliseconds")


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
Timestamp = Annotated[
    datetime,
    BeforeValidator(_parse_rfc3339),
    PlainSerializer(format_rfc3339, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
NonNegativeInt = Annotated[int, Field(ge=0)]

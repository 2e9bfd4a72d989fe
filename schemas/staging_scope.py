"""The staging scope: the per-user segment of a staged blob's key, `{root}{scope}/{name}`.

The stagers and the upload tickets (producer_lib) put the scope of the request's user in
every key they make; the consumer reads and deletes a staged blob only when the key below
its staging root starts with the scope of the request's own `user_id`. A request naming
another user's staged key then fails with `source_not_allowed`, and nothing is read or
deleted (docs/contract/upload-events-v1.md, BlobRef).

The scope is `u` + the first 16 hex digits of a domain-separated SHA-256 of the
normalised user id: the same on every machine and in every language, and it keeps user
ids out of staging keys and bucket listings. It is not a secret (whoever knows a user id
can compute it): the binding holds by equality with the request's `user_id`.

A key with no scope segment (staged before scopes existed, or by a producer that does not
make them) is `LEGACY`: read as before, never deleted after commit; the sweep or the
bucket's lifecycle rule removes it.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum

SCOPE_PATTERN = r"^u[0-9a-f]{16}$"
_SCOPE = re.compile(SCOPE_PATTERN)
_DOMAIN = b"upload-stream staging scope\x00"


class StagedOwner(StrEnum):
    """Whose staged blob a key is, seen from one request's user."""

    OWN = "own"  # the key carries this user's scope
    OTHER = "other"  # the key carries another scope: never read, never deleted
    LEGACY = "legacy"  # no scope segment: read, never deleted after commit


def staging_scope(user_id: str) -> str:
    """The scope segment of `user_id` (the contract's normalised string form)."""
    return "u" + hashlib.sha256(_DOMAIN + user_id.encode("utf-8")).hexdigest()[:16]


def staged_owner(relative: str, user_id: str) -> StagedOwner:
    """Whose blob `relative` is: the key (or path) below its staging root."""
    first, slash, rest = relative.partition("/")
    if not (slash and rest and _SCOPE.fullmatch(first)):
        return StagedOwner.LEGACY
    return StagedOwner.OWN if first == staging_scope(user_id) else StagedOwner.OTHER

"""Replay lineage: which original request a replay descends from, and its replay's id.

Choice (documented in docs/runbook.md): `replay_of` always names the ORIGINAL request of
the lineage, never the previous attempt. A lineage is then one key (`root`), every attempt
of it can be grouped without following a chain, and "latest result per lineage" is one
dict lookup. `attempt` orders the attempts.

Replay ids are derived, not random: `{root}.r{attempt}`. Running the same replay twice
computes the same id, so the tool can see it was already published; and were it
published twice, content-addressed keys still make one object.
"""

from __future__ import annotations

import hashlib
import re

from schemas.fields import REQUEST_ID_PATTERN

MAX_REQUEST_ID = 128
_VALID = re.compile(REQUEST_ID_PATTERN)
_HASH_CHARS = 16


def lineage_root(request_id: str, replay_of: str | None) -> str:
    """The original request id of the lineage this event belongs to."""
    return replay_of or request_id


def replay_request_id(root: str, attempt: int) -> str:
    """The id of attempt `attempt` (>= 2) of the lineage started by `root`.

    Fits the contract's 1-128 chars of `[A-Za-z0-9._:-]`: when `{root}.r{attempt}` would
    be too long, the root is cut and a hash of the whole root keeps ids distinct.
    """
    if attempt < 2:
        raise ValueError("a replay is attempt 2 or later")
    if not _VALID.fullmatch(root):
        raise ValueError("root is not a valid request id")
    suffix = f".r{attempt}"
    plain = root + suffix
    if len(plain) <= MAX_REQUEST_ID:
        return plain
    digest = hashlib.sha256(root.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    keep = MAX_REQUEST_ID - len(suffix) - _HASH_CHARS - 1
    return f"{root[:keep]}.{digest}{suffix}"

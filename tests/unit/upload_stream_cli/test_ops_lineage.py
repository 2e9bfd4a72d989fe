"""Replay ids: valid under the contract, deterministic, capped at 128 characters."""

import re

import pytest

from schemas.fields import REQUEST_ID_PATTERN
from upload_stream_cli.ops.lineage import lineage_root, replay_request_id

VALID = re.compile(REQUEST_ID_PATTERN)


def test_short_ids_get_a_readable_suffix() -> None:
    assert replay_request_id("req-123", 2) == "req-123.r2"
    assert replay_request_id("a", 17) == "a.r17"
    assert replay_request_id("x:y.z_w-1", 3) == "x:y.z_w-1.r3"


def test_deterministic() -> None:
    root = "k" * 127
    assert replay_request_id(root, 2) == replay_request_id(root, 2)
    assert replay_request_id(root, 2) != replay_request_id(root, 3)


def test_exactly_128_is_kept_plain_and_129_is_hashed() -> None:
    assert replay_request_id("a" * 125, 2) == "a" * 125 + ".r2"
    long_id = replay_request_id("a" * 126, 2)
    assert len(long_id) == 128
    assert long_id.startswith("a" * 108 + ".")
    assert long_id.endswith(".r2")
    assert VALID.fullmatch(long_id)


@pytest.mark.parametrize("length", [1, 60, 124, 125, 126, 127, 128])
@pytest.mark.parametrize("attempt", [2, 9, 10, 999, 123456])
def test_always_valid_and_at_most_128(length: int, attempt: int) -> None:
    new_id = replay_request_id("Z" * length, attempt)
    assert len(new_id) <= 128
    assert VALID.fullmatch(new_id)
    assert new_id.endswith(f".r{attempt}")


def test_long_roots_sharing_a_prefix_stay_distinct() -> None:
    first = replay_request_id("p" * 120 + "-first", 2)
    second = replay_request_id("p" * 120 + "-second", 2)
    assert first != second
    assert len(first) == len(second) == 128


def test_rejects_non_replays_and_invalid_roots() -> None:
    with pytest.raises(ValueError, match="attempt 2 or later"):
        replay_request_id("req", 1)
    with pytest.raises(ValueError, match="not a valid request id"):
        replay_request_id("bad id", 2)
    with pytest.raises(ValueError, match="not a valid request id"):
        replay_request_id("", 2)


def test_root_is_replay_of_when_set() -> None:
    assert lineage_root("req-1", None) == "req-1"
    assert lineage_root("req-1.r3", "req-1") == "req-1"

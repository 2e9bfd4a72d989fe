"""Filters and time parsing for `dlq` and `replay`."""

from datetime import UTC, datetime, timedelta

import pytest

from upload_stream_cli.errors import UsageError
from upload_stream_cli.ops.filters import RecordFilter, parse_time

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", NOW - timedelta(seconds=90)),
        ("15m", NOW - timedelta(minutes=15)),
        ("2h", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        ("1w", NOW - timedelta(days=7)),
        ("2026-01-31T12:00:00Z", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ("2026-01-31T12:00:00.250z", datetime(2026, 1, 31, 12, 0, 0, 250000, tzinfo=UTC)),
        (
            "2026-01-31T14:00:00+02:00",
            datetime(2026, 1, 31, 14, tzinfo=UTC).replace(
                tzinfo=datetime.fromisoformat("2026-01-31T14:00:00+02:00").tzinfo
            ),
        ),
    ],
)
def test_parse_time_accepts_rfc3339_and_ages(text: str, expected: datetime) -> None:
    assert parse_time(text, now=NOW) == expected


def test_parse_time_offset_is_kept_as_an_instant() -> None:
    assert parse_time("2026-01-31T14:00:00+02:00", now=NOW) == datetime(2026, 1, 31, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["", "2h30m", "-2h", "2y", "yesterday", "2026-01-31", "2026-01-31T12:00:00", "\x1b[2J"]
)
def test_parse_time_rejects_everything_else(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_time(text, now=NOW)
    assert "is not a time" in str(caught.value)
    assert "\x1b" not in str(caught.value)


def test_empty_filter_matches_everything() -> None:
    selected = RecordFilter()
    assert selected.match_time(None) is True
    assert selected.match_ids(request_ids=(None,), user_id=None) is True
    assert selected.match_code(None) is True
    assert selected.selected_file_types({"selfie": 1, "passport": 2}) == ["passport", "selfie"]


def test_time_bounds_are_inclusive_and_unknown_time_never_matches_a_bound() -> None:
    selected = RecordFilter(since=NOW - timedelta(hours=1), until=NOW)
    assert selected.match_time(NOW - timedelta(hours=1)) is True
    assert selected.match_time(NOW) is True
    assert selected.match_time(NOW + timedelta(seconds=1)) is False
    assert selected.match_time(NOW - timedelta(hours=2)) is False
    assert selected.match_time(None) is False
    assert RecordFilter(since=NOW).match_time(NOW + timedelta(days=1)) is True


def test_ids_match_any_of_the_record_ids_and_the_user() -> None:
    selected = RecordFilter(request_ids=frozenset({"orig-1"}), user_ids=frozenset({"u1"}))
    assert selected.match_ids(request_ids=("orig-1.r2", "orig-1"), user_id="u1") is True
    assert selected.match_ids(request_ids=("orig-1", None), user_id="u1") is True
    assert selected.match_ids(request_ids=("orig-2", None), user_id="u1") is False
    assert selected.match_ids(request_ids=("orig-1", None), user_id="u2") is False
    assert selected.match_ids(request_ids=(None, None), user_id="u1") is False


def test_codes_and_file_types() -> None:
    selected = RecordFilter(codes=frozenset({"throttled"}), file_types=frozenset({"selfie"}))
    assert selected.match_code("throttled") is True
    assert selected.match_code("timeout") is False
    assert selected.match_code(None) is False
    assert selected.selected_file_types(["passport", "selfie"]) == ["selfie"]
    assert selected.selected_file_types(["passport"]) == []

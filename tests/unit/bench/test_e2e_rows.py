import re

import pytest

from bench.e2e_rows import DEFAULT_ROWS, RowSpec, parse_row


def test_a_row_with_settings_names_their_variables() -> None:
    row = parse_row("2:exactly_once:checkpoint_interval_s=0.1,KAFKA_RETRY_BACKOFF_MS=10")

    assert row == RowSpec(
        2,
        "exactly_once",
        {"UPLOAD_STREAM_CHECKPOINT_INTERVAL_S": "0.1", "KAFKA_RETRY_BACKOFF_MS": "10"},
    )


def test_a_row_without_settings() -> None:
    assert parse_row("1:at_least_once") == RowSpec(1, "at_least_once", {})


@pytest.mark.parametrize("row", [*DEFAULT_ROWS, parse_row("1:exactly_once:KAFKA_DEBUG=eos")])
def test_text_is_what_parse_row_reads_back(row: RowSpec) -> None:
    assert parse_row(row.text) == row


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0:exactly_once", "CONSUMERS must be a whole number from 1"),
        ("x:exactly_once", "CONSUMERS must be a whole number from 1"),
        ("1", "GUARANTEE must be one of exactly_once, at_least_once"),
        ("1:exactly_twice", "GUARANTEE must be one of"),
        ("1:exactly_once:checkpoint_interval_s", "'checkpoint_interval_s' is not NAME=VALUE"),
        ("1:exactly_once:checkpoint_interval_s=", "is not NAME=VALUE"),
        ("1:exactly_once:no_such_setting=1", "'no_such_setting' is neither a consumer setting"),
        ("1:exactly_once:processing_guarantee=at_least_once", "the row's second part"),
    ],
)
def test_a_malformed_row_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(repr(text))) as caught:
        parse_row(text)

    assert says in str(caught.value)

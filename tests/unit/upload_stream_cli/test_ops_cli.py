"""Argument and configuration errors exit 2 with one line, before touching Kafka."""

import pytest

from upload_stream_cli.main import run


@pytest.mark.parametrize(
    "argv",
    [
        ["replay"],
        ["replay", "--from", "nowhere"],
        ["replay", "--from", "results", "--rate", "0"],
        ["replay", "--from", "results", "--rate", "inf"],
        ["replay", "--from", "results", "--limit", "0"],
        ["replay", "--from", "results", "--limit", "x"],
        ["replay", "--from", "results", "--timeout", "-1"],
        ["dlq"],
        ["dlq", "purge"],
        ["dlq", "list", "--timeout", "0"],
    ],
)
def test_malformed_flags_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run(argv)
    assert caught.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["replay", "--from", "results", "--code", "bucket_not_allowed"],
            "upload-stream replay: unknown --code 'bucket_not_allowed'; one of: "
            "checksum_mismatch, content_type_mismatch, content_type_not_allowed, "
            "destination_denied, destination_not_found, internal_error, malware_detected, "
            "network_error, scan_failed, size_mismatch, source_not_allowed, source_not_found, "
            "source_unreadable, throttled, timeout, too_large",
        ),
        (
            ["replay", "--from", "dlq", "--code", "throttled"],
            "upload-stream replay: unknown --code 'throttled'; one of: bucket_not_allowed, "
            "invalid_json, invalid_request, reply_topic_not_allowed, too_many_files, "
            "unsupported_schema_version",
        ),
        (
            ["replay", "--from", "dlq", "--include-permanent"],
            "upload-stream replay: --include-permanent applies to --from results only",
        ),
        (
            ["replay", "--from", "results", "--since", "1h", "--until", "2h"],
            "upload-stream replay: --since is later than --until",
        ),
        (
            ["dlq", "list", "--since", "yesterday"],
            "upload-stream dlq: 'yesterday' is not a time: use RFC 3339 with an offset "
            "(2026-01-31T12:00:00Z) or an age like 90s, 15m, 2h, 7d",
        ),
        (
            ["dlq", "list", "--code", "\x1b[2Jx"],
            "upload-stream dlq: unknown --code '\\x1b[2Jx'; one of: bucket_not_allowed, "
            "invalid_json, invalid_request, reply_topic_not_allowed, too_many_files, "
            "unknown, unsupported_schema_version",
        ),
        (
            ["dlq", "show", "--at", "1-2"],
            "upload-stream dlq: --at '1-2' is not PARTITION:OFFSET, e.g. 0:42",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", message + "\n")


def test_bad_configuration_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("UPLOAD_STREAM_MAX_FILES_PER_REQUEST", "0")
    assert run(["dlq", "list"]) == 2
    assert capsys.readouterr().err == (
        "upload-stream dlq: invalid max_files_per_request: "
        "Input should be greater than or equal to 1\n"
    )

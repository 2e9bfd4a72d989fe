"""A command reads only the settings groups it uses: a bad value of any other variable does
not stop it (exit 2), while a bad value of one it reads still does.

No broker listens at NOWHERE, so each command gets past its configuration and fails on the
connection instead (exit 1): that is what tells "configuration read" from "not read".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from upload_stream_cli.main import run

NOWHERE = "127.0.0.1:1"

# One invalid value per group that some command does not read.
BAD = {
    "consumer": {
        "UPLOAD_STREAM_MAX_IN_FLIGHT_REQUESTS": "0",
        "UPLOAD_STREAM_PROCESSING_GUARANTEE": "sometimes",
        "UPLOAD_STREAM_METRICS_PORT": "-1",
    },
    "engine": {"UPLOAD_STREAM_MAX_CONCURRENCY": "0", "UPLOAD_STREAM_SSE": "rot13"},
    "producer": {"UPLOAD_STREAM_STAGING_WORKERS": "0", "UPLOAD_STREAM_REPLY_TIMEOUT_S": "0"},
    "dlq_topic": {"UPLOAD_STREAM_DLQ_TOPIC": "not a topic!"},
    "fetch_wait": {"UPLOAD_STREAM_FETCH_WAIT_MAX_MS": "-1"},
    "request_limits": {"UPLOAD_STREAM_MAX_FILES_PER_REQUEST": "0"},
}

# What each command does not read.
NOT_READ = {
    "dlq": ["consumer", "engine", "producer", "fetch_wait"],
    "replay": ["consumer", "engine", "producer", "fetch_wait"],
    "results": ["consumer", "engine", "producer", "dlq_topic", "fetch_wait", "request_limits"],
    "submit": ["consumer", "engine", "dlq_topic", "request_limits"],
}


def _argv(command: str, tmp_path: Path) -> list[str]:
    if command == "submit":
        scan = tmp_path / "scan.pdf"
        scan.write_bytes(b"%PDF-1.4 not really")
        return ["submit", "user_1", f"passport={scan}"]
    return {
        "dlq": ["dlq", "list", "--timeout", "0.5"],
        "replay": ["replay", "--from", "dlq", "--dry-run", "--timeout", "0.5"],
        "results": ["results"],
    }[command]


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", NOWHERE)
    monkeypatch.setenv("UPLOAD_STREAM_STAGING_URI", f"file://{tmp_path}/staging/")
    monkeypatch.setenv("UPLOAD_STREAM_PUBLISH_TIMEOUT_S", "0.5")
    return monkeypatch


@pytest.mark.parametrize("command", sorted(NOT_READ))
def test_bad_values_of_unread_variables_do_not_stop_a_command(
    command: str,
    nowhere: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for group in NOT_READ[command]:
        for name, value in BAD[group].items():
            nowhere.setenv(name, value)
    assert run(_argv(command, tmp_path)) == 1
    err = capsys.readouterr().err
    assert "invalid" not in err
    assert err.splitlines()[-1].startswith(f"upload-stream {command}: ")


@pytest.mark.parametrize(
    ("command", "name", "value", "field"),
    [
        ("dlq", "UPLOAD_STREAM_DLQ_TOPIC", "not a topic!", "dlq_topic"),
        ("replay", "UPLOAD_STREAM_REQUESTS_TOPIC", "not a topic!", "requests_topic"),
        ("replay", "UPLOAD_STREAM_MAX_FILES_PER_REQUEST", "0", "max_files_per_request"),
        ("results", "UPLOAD_STREAM_RESULTS_TOPIC", "not a topic!", "results_topic"),
        ("submit", "UPLOAD_STREAM_STAGING_WORKERS", "0", "staging_workers"),
        ("submit", "UPLOAD_STREAM_FETCH_WAIT_MAX_MS", "-1", "fetch_wait_max_ms"),
    ],
)
def test_a_bad_value_of_a_variable_it_reads_still_exits_2(
    command: str,
    name: str,
    value: str,
    field: str,
    nowhere: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    nowhere.setenv(name, value)
    assert run(_argv(command, tmp_path)) == 2
    assert capsys.readouterr().err.startswith(f"upload-stream {command}: invalid {field}: ")

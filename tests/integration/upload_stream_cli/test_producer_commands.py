"""`upload-stream submit` and `upload-stream results` as subprocesses, against the real
stack and consumer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.producer_support import REPO, Pipeline, pipeline, read_s3_url


@pytest.fixture
def pipe(request: pytest.FixtureRequest, stack: Any) -> Pipeline:
    return pipeline(request, stack)


def _cli(pipe: Pipeline, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "upload_stream_cli.entry", *args],
        env={**pipe.env, **pipe.mode_env(), **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_submit_wait_json_then_results_finds_it(pipe: Pipeline, s3: Any, tmp_path: Path) -> None:
    passport = tmp_path / "scan.PDF"
    passport.write_bytes(b"%PDF-1.7 passport")
    selfie = tmp_path / "me.jpg"
    selfie.write_bytes(b"\xff\xd8 selfie")

    done = _cli(
        pipe, "submit", "77", f"passport={passport}", f"selfie={selfie}",
        "--category", "kyc_documents", "--wait", "--json",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    assert result["user_id"] == "77"
    assert sorted(result["urls"]) == ["passport", "selfie"]
    assert result["urls"]["passport"].endswith(".pdf")
    assert read_s3_url(s3, result["urls"]["passport"]) == b"%PDF-1.7 passport"
    assert read_s3_url(s3, result["urls"]["selfie"]) == b"\xff\xd8 selfie"
    assert result["objects"]["selfie"]["content_type"] == "image/jpeg"

    found = _cli(
        pipe, "results", "--from-beginning", "--json", "--request-id", result["request_id"]
    )
    assert found.returncode == 0, found.stderr
    assert [json.loads(line)["request_id"] for line in found.stdout.splitlines()] == [
        result["request_id"]
    ]
    readable = _cli(pipe, "results", "--from-beginning", "--request-id", result["request_id"])
    assert readable.stdout.splitlines()[0].startswith(f"{result['request_id']}  user 77  ")
    assert f"  passport: {result['urls']['passport']} (17 bytes)" in readable.stdout


def test_submit_without_wait_prints_the_request_id(pipe: Pipeline, tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_bytes(b"text")
    done = _cli(pipe, "submit", "u-1", f"doc={doc}")
    assert done.returncode == 0, done.stderr
    (request_id,) = done.stdout.split()
    assert request_id.startswith("req-")
    assert "  doc: s3://" in done.stderr


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["submit", "42", "passport"], "expected FILE_TYPE=PATH, got 'passport'"),
        (["submit", "42", "passport=/nonexistent/x"], "'/nonexistent/x' is not a readable file"),
        (
            ["submit", "no/slash", "a=/etc/hostname"],
            "invalid upload: user_id: String should match pattern '^[A-Za-z0-9_-]{1,64}$'",
        ),
        (
            ["submit", "42", "Bad=/etc/hostname"],
            "invalid upload: files.*.[key]: String should match pattern "
            "'^[a-z0-9][a-z0-9_-]{0,62}$'",
        ),
        (["submit", "42", "a=/etc/hostname", "--timeout", "0"], "--timeout must be positive"),
        (["results", "--last", "-1"], "--last must be 0 or more"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(pipe: Pipeline, args: list[str], reason: str) -> None:
    done = _cli(pipe, *args)
    assert done.returncode == 2
    assert done.stderr == f"upload-stream {args[0]}: {reason}\n"
    assert done.stdout == ""


def test_missing_staging_configuration_exits_2(pipe: Pipeline, tmp_path: Path) -> None:
    doc = tmp_path / "d.txt"
    doc.write_bytes(b"x")
    done = _cli(
        pipe,
        "submit",
        "42",
        f"doc={doc}",
        UPLOAD_STREAM_STAGING_URI="",
        UPLOAD_STREAM_STAGING_ALLOWLIST="",
    )
    assert done.returncode == 2
    assert done.stderr == (
        "upload-stream submit: no staging area: set UPLOAD_STREAM_STAGING_URI "
        "(s3://bucket/prefix/ or file:///dir/)\n"
    )


def test_submit_to_a_down_broker_exits_1(pipe: Pipeline, tmp_path: Path) -> None:
    doc = tmp_path / "d.txt"
    doc.write_bytes(b"x")
    done = _cli(
        pipe, "submit", "42", f"doc={doc}",
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9", UPLOAD_STREAM_PUBLISH_TIMEOUT_S="1",
    )  # fmt: skip
    assert done.returncode == 1
    assert "upload-stream submit: 1 of 1 requests not acknowledged by the broker" in done.stderr

"""`upload-stream staging sweep` against moto in-process and a temp dir."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from producer_lib.dir_staging import DirStager
from producer_lib.s3_staging import S3Stager
from tests.unit.engine_support import STAGE_PREFIX, Env
from upload_stream_cli.main import run
from upload_stream_cli.ops import filters

OLD = b"an old staged blob"


@pytest.fixture
def staged(env: Env, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """An old and a new blob in S3 and in a directory (the old ones once without and once
    in a user's staging scope), one foreign object, one old and one new multipart upload in
    the destination; the sweep's environment."""
    s3 = S3Stager(env.stage, STAGE_PREFIX, client=env.client)
    directory = DirStager(env.root)
    old_s3, old_file = s3.stage(OLD), directory.stage(OLD)
    scoped_s3, scoped_file = s3.stage(OLD, user_id=7), directory.stage(OLD, user_id=7)
    temp = env.root / f".{'a' * 32}.tmp"
    temp.write_bytes(b"interrupted")
    env.client.put_object(Bucket=env.stage, Key=f"{STAGE_PREFIX}keep-me", Body=b"not ours")
    old_mpu = env.client.create_multipart_upload(Bucket=env.dest, Key="kyc/old")["UploadId"]
    past = time.time() - 3600
    for path in (Path(ref.uri.removeprefix("file://")) for ref in (old_file, scoped_file)):
        os.utime(path, (past, past))
    for path in (temp,):
        os.utime(path, (past, past))
    time.sleep(1.2)
    # Ages count from this instant, not from when the sweep runs: on a loaded machine the
    # "new" blobs could otherwise be more than a second old by then.
    monkeypatch.setattr(filters, "parse_time", partial(filters.parse_time, now=datetime.now(UTC)))
    new_s3, new_file = s3.stage(b"a new blob", user_id=7), directory.stage(b"new", user_id=7)
    monkeypatch.setenv(
        "UPLOAD_STREAM_STAGING_ALLOWLIST", f"s3://{env.stage}/{STAGE_PREFIX},{directory.root}"
    )
    monkeypatch.setenv("UPLOAD_STREAM_DEFAULT_BUCKET", env.dest)
    monkeypatch.setattr("upload_stream_cli.commands.staging._client", lambda: env.client)
    return {
        "old": [old_s3, old_file],
        "scoped": [scoped_s3, scoped_file],
        "new": [new_s3, new_file],
        "temp": temp,
        "old_mpu": old_mpu,
    }


def _keys(env: Env) -> set[str]:
    listing = env.client.list_objects_v2(Bucket=env.stage)
    return {o["Key"] for o in listing.get("Contents", [])}


def _uploads(env: Env) -> list[str]:
    return [
        u["UploadId"] for u in env.client.list_multipart_uploads(Bucket=env.dest).get("Uploads", [])
    ]


def test_dry_run_counts_and_deletes_nothing(
    env: Env, staged: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    before = _keys(env)
    assert run(["staging", "sweep", "--older-than", "1s", "--dry-run", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["dry_run"] is True
    assert summary["found"] == {"blob": 2, "file": 3, "multipart": 1}
    assert summary["deleted"] == {}
    assert _keys(env) == before
    assert staged["temp"].exists()


def test_sweep_deletes_only_old_staged_names_and_aborts_old_uploads(
    env: Env, staged: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["staging", "sweep", "--older-than", "1s"]) == 0

    out = capsys.readouterr().out
    assert "deleted 5 staged blobs" in out and "aborted 1 incomplete multipart uploads" in out
    old_s3, old_file = staged["old"]
    new_s3, new_file = staged["new"]
    keys = _keys(env)
    assert old_s3.uri.split("/", 3)[3] not in keys
    assert staged["scoped"][0].uri.split("/", 3)[3] not in keys
    assert not Path(staged["scoped"][1].uri.removeprefix("file://")).exists()
    assert new_s3.uri.split("/", 3)[3] in keys
    assert f"{STAGE_PREFIX}keep-me" in keys  # not a name upload-stream writes
    assert not Path(old_file.uri.removeprefix("file://")).exists()
    assert Path(new_file.uri.removeprefix("file://")).exists()
    assert not staged["temp"].exists()
    assert staged["old_mpu"] not in _uploads(env)


@pytest.mark.parametrize("age", ["7", "soon", "1y", "2026-01-01T00:00:00Z"])
def test_a_bad_age_is_a_usage_error(
    env: Env, staged: dict[str, Any], age: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["staging", "sweep", "--older-than", age]) == 2
    assert "--older-than" in capsys.readouterr().err


def test_no_staging_root_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("UPLOAD_STREAM_STAGING_ALLOWLIST", raising=False)
    monkeypatch.delenv("UPLOAD_STREAM_STAGING_URI", raising=False)
    assert run(["staging", "sweep", "--older-than", "7d"]) == 2
    assert "no staging root" in capsys.readouterr().err


class _DeniesDeletes:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def delete_objects(self, **_kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDenied"}}, "DeleteObjects")


def test_a_failed_delete_is_counted_and_exits_1(
    env: Env,
    staged: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    denied = _DeniesDeletes(env.client)
    monkeypatch.setattr("upload_stream_cli.commands.staging._client", lambda: denied)
    assert run(["staging", "sweep", "--older-than", "1s", "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["failed"] == {"blob": 2}
    assert summary["deleted"] == {"file": 3, "multipart": 1}
    assert staged["old"][0].uri.split("/", 3)[3] in _keys(env)

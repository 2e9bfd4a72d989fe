"""Which local S3 server the stack starts (`UPLOAD_STREAM_S3_SERVER`), and the versitygw
build cache. No server is started here
(tests/integration/upload_stream_cli/test_versitygw_server.py does)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from upload_stream_cli.devstack import versitygw
from upload_stream_cli.devstack.errors import MissingToolError, StackError
from upload_stream_cli.devstack.s3 import MotoS3Server
from upload_stream_cli.devstack.stack import Stack
from upload_stream_cli.devstack.versitygw import VersityGwServer, ensure_versitygw


def chosen(environ: dict[str, str]) -> object:
    return Stack(environ=environ)._local_s3_server(environ.get("AWS_ENDPOINT_URL"))


def test_moto_is_the_default() -> None:
    assert isinstance(chosen({}), MotoS3Server)
    assert isinstance(chosen({"UPLOAD_STREAM_S3_SERVER": "moto"}), MotoS3Server)


def test_versitygw_when_asked() -> None:
    assert isinstance(chosen({"UPLOAD_STREAM_S3_SERVER": " VersityGW "}), VersityGwServer)


def test_an_endpoint_from_the_environment_starts_nothing() -> None:
    assert chosen({"AWS_ENDPOINT_URL": "http://s3.example:9000"}) is None


def test_an_unknown_server_names_the_variable() -> None:
    with pytest.raises(StackError, match=r"UPLOAD_STREAM_S3_SERVER='minio'.*moto, versitygw"):
        chosen({"UPLOAD_STREAM_S3_SERVER": "minio"})


def test_a_local_server_and_an_endpoint_together_are_refused() -> None:
    # Else the strict run would silently test some other server.
    environ = {"UPLOAD_STREAM_S3_SERVER": "versitygw", "AWS_ENDPOINT_URL": "http://x:9000"}
    with pytest.raises(StackError, match="both set"):
        chosen(environ)


def test_a_cached_binary_is_used_without_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = tmp_path / "bin" / f"versitygw-{versitygw.VERSITYGW_VERSION}"
    cached.parent.mkdir()
    cached.write_text("#!/bin/sh\n")
    cached.chmod(0o755)
    monkeypatch.setattr(versitygw, "find_go", lambda: pytest.fail("go must not be run"))
    assert ensure_versitygw(root=tmp_path) == cached


def test_without_go_the_build_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(MissingToolError, match="go is not on PATH"):
        ensure_versitygw(root=tmp_path)


def test_a_failed_build_leaves_nothing_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_go = tmp_path / "go"
    fake_go.write_text("#!/bin/sh\necho 'go: module lookup disabled' >&2\nexit 1\n")
    fake_go.chmod(0o755)
    monkeypatch.setattr(versitygw, "find_go", lambda: str(fake_go))
    with pytest.raises(
        StackError, match=r"(?s)could not build versitygw .*exit 1.*lookup disabled"
    ):
        ensure_versitygw(root=tmp_path / "cache")
    assert [p.name for p in (tmp_path / "cache" / "bin").iterdir()] == [
        f"versitygw-{versitygw.VERSITYGW_VERSION}.lock"
    ]

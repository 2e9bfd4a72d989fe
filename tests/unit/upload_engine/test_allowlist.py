"""Allow-list rules in isolation: URI parsing, decoding and prefix checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from schemas import FileFailureCode as C
from upload_engine.allowlist import Allowlist, AllowlistError, file_uri_path, split_s3_uri
from upload_engine.errors import FileError


def refused(func: object, *args: str) -> None:
    with pytest.raises(FileError) as caught:
        func(*args)  # type: ignore[operator]
    assert caught.value.code is C.SOURCE_NOT_ALLOWED


@pytest.mark.parametrize(
    "uri",
    [
        "s3://b/in/../secret",
        "s3://b/in/./x",
        "s3://b/in//x",
        "s3://b/in/x/",
        "s3://b/",
        "s3://b",
        "s3://b/..",
        "s3:///key",
    ],
)
def test_s3_keys_with_odd_segments_are_refused(uri: str) -> None:
    refused(split_s3_uri, uri)


def test_s3_key_is_taken_literally() -> None:
    assert split_s3_uri("s3://b/in/a%2F..%2Fb") == ("b", "in/a%2F..%2Fb")


def test_s3_prefix_check() -> None:
    allow = Allowlist.parse(["s3://stage/in/", "s3://whole/"])
    allow.check_s3("stage", "in/a")
    allow.check_s3("whole", "anything/at/all")
    refused(allow.check_s3, "stage", "inx/a")  # a prefix is a directory, not a string start
    refused(allow.check_s3, "stage", "out/a")
    refused(allow.check_s3, "other", "in/a")


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("file:///data/a.jpg", "/data/a.jpg"),
        ("file:///data/a%20b.jpg", "/data/a b.jpg"),
        ("file:///data/%C3%A9.jpg", "/data/\u00e9.jpg"),
        ("file:///data/%252e%252e/x", "/data/%2e%2e/x"),  # decoded once only
    ],
)
def test_file_uri_decoding(uri: str, path: str) -> None:
    assert file_uri_path(uri) == path


@pytest.mark.parametrize(
    "uri",
    [
        "file:///data/../etc/passwd",
        "file:///data/%2e%2e/etc/passwd",
        "file:///data/%2E%2E%2Fetc%2Fpasswd",
        "file:///data/./a",
        "file:///data//a",
        "file:///data/a%00.jpg",
        "file:///data/%ff.jpg",
        "file:///data/a.jpg?x=1",
        "file:///data/a.jpg#frag",
        "file://host/data/a.jpg",
        "file:/data/a.jpg",
    ],
)
def test_file_uris_refused(uri: str) -> None:
    refused(file_uri_path, uri)


def test_dir_roots_resolve_symlinks_and_contain_only_children(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    allow = Allowlist.parse([f"file://{link}/"])
    assert allow.dir_roots == (str(real),)
    assert allow.root_of(str(real / "a")) == str(real)
    refused(allow.root_of, str(real))
    refused(allow.root_of, str(tmp_path / "realx" / "a"))
    refused(allow.root_of, os.path.realpath("/etc/passwd"))


@pytest.mark.parametrize(
    "root", ["http://x/", "s3://b/prefix", "s3://b/a/../", "file:///a/../b/", "/plain/path"]
)
def test_bad_roots_are_rejected_at_start(root: str) -> None:
    with pytest.raises(AllowlistError):
        Allowlist.parse([root])

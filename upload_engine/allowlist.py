"""The staging allow-list: which `s3://` and `file://` BlobRefs the engine may read.

Pure string logic, no I/O, so every rule is unit-tested in isolation.

`s3://bucket/key`: the key is taken literally (S3 keys are not percent-encoded in these
URIs, as with the AWS CLI). A key with an empty, `.` or `..` segment (`a//b`, `a/../b`,
a trailing `/`) is refused outright: S3 itself does not normalise keys, but proxies and
SDKs in other languages may, and a key that could mean two things must not pass a prefix
check meant for one of them.

`file:///path`: only the empty authority (`file:///`); `?` and `#` are refused rather than
guessed at. The path is percent-decoded exactly once as UTF-8 (RFC 8089), so
`%2e%2e` becomes `..` and is then refused like a literal `..`, and `%252e` stays the
literal name `%2e`. NUL, `.` and `..` segments are refused. The remaining path is then
resolved with `os.path.realpath` by the opener, and the resolved path must still sit
under a root (itself resolved once, at start-up).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from schemas import FileFailureCode, StagedOwner, staged_owner
from upload_engine.errors import FileError

_NOT_ALLOWED = FileFailureCode.SOURCE_NOT_ALLOWED


class AllowlistError(ValueError):
    """A configured root is not `s3://bucket/prefix/` or `file:///dir/`."""


def _bad_segments(path: str) -> bool:
    return any(part in ("", ".", "..") for part in path.split("/"))


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of an `s3://` URI, or a `source_not_allowed` problem."""
    rest = uri.removeprefix("s3://")
    bucket, _, key = rest.partition("/")
    if not bucket or not key or _bad_segments(key) or "\x00" in key:
        raise FileError(_NOT_ALLOWED, "s3 key is empty or has an empty, '.' or '..' segment")
    return bucket, key


def file_uri_path(uri: str) -> str:
    """The absolute, decoded, not yet resolved path of a `file:///` URI."""
    if not uri.startswith("file:///"):
        raise FileError(_NOT_ALLOWED, "file URI must be file:///absolute/path")
    raw = uri.removeprefix("file://")
    if "?" in raw or "#" in raw:
        raise FileError(_NOT_ALLOWED, "file URI with a query or fragment")
    try:
        path = unquote(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise FileError(_NOT_ALLOWED, "file URI is not UTF-8 once decoded") from None
    if "\x00" in path or _bad_segments(path[1:].rstrip("/") or "x"):
        raise FileError(_NOT_ALLOWED, "file path has NUL, '.' or '..' segments")
    return path


@dataclass(frozen=True)
class Allowlist:
    s3_roots: tuple[tuple[str, str], ...]
    dir_roots: tuple[str, ...]

    @classmethod
    def parse(cls, roots: Iterable[str]) -> Allowlist:
        s3_roots: list[tuple[str, str]] = []
        dir_roots: list[str] = []
        for root in roots:
            if root.startswith("s3://"):
                bucket, _, prefix = root.removeprefix("s3://").partition("/")
                if not bucket or (
                    prefix and (not prefix.endswith("/") or _bad_segments(prefix[:-1]))
                ):
                    raise AllowlistError(
                        f"s3 root must be s3://bucket/ or s3://bucket/prefix/: {root!r}"
                    )
                s3_roots.append((bucket, prefix))
            elif root.startswith("file:///"):
                path = unquote(root.removeprefix("file://"))
                if _bad_segments(path[1:].rstrip("/") or "x"):
                    raise AllowlistError(f"file root must be a clean absolute path: {root!r}")
                # Resolved once here: roots under a symlinked dir (/tmp on some systems) work.
                dir_roots.append(os.path.realpath(path))
            else:
                raise AllowlistError(f"staging root must start with s3:// or file:///: {root!r}")
        return cls(tuple(s3_roots), tuple(dir_roots))

    def check_s3(self, bucket: str, key: str) -> str:
        """The key below the root it sits under, or a problem."""
        for root_bucket, prefix in self.s3_roots:
            if bucket == root_bucket and key.startswith(prefix):
                return key[len(prefix) :]
        raise FileError(_NOT_ALLOWED, "s3 source is outside the staging allow-list")

    def root_of(self, real_path: str) -> str:
        """The root a resolved path sits under (never the root itself), or a problem."""
        for root in self.dir_roots:
            if real_path != root and os.path.commonpath((root, real_path)) == root:
                return root
        raise FileError(_NOT_ALLOWED, "file source is outside the staging allow-list")

    def owner(self, uri: str, user_id: str) -> StagedOwner:
        """Whose staged blob `uri` is, for a request of `user_id` (schemas/staging_scope.py);
        a problem when it is outside the allow-list. A `file://` path is resolved first, so
        a symlink cannot lend a blob another scope."""
        if uri.startswith("s3://"):
            return staged_owner(self.check_s3(*split_s3_uri(uri)), user_id)
        real = os.path.realpath(file_uri_path(uri))
        return staged_owner(real[len(self.root_of(real)) :].lstrip("/"), user_id)

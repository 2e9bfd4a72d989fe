"""The hostile-input corpus: >= 100 crafted request events, each with its expected outcome.

`build(ctx)` stages whatever the cases need on disk (files, symlinks, FIFOs, a directory
that looks like the staging root but is not) and returns the cases. Every case declares:

- `dlq`: the `dlq_reason_code` its dead letter must carry, or None (no dead letter);
- `result_id`: the request_id whose single result must appear, or None (no result);
- `error`: the result's request-level `error.code` (a rejected request), or None;
- `files`: for an accepted request, file_type -> failure code, or None for "uploaded";
- `keys`: every (bucket, key) the case may write, computed independently of the code
  under test from the contract's key rule;
- `reply_topic`: where the result must land (default: the results topic);
- `traceparent`: the traceparent the result must carry (None: none at all).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CATEGORY = "kyc_documents"
USER = "hostile"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRICKS = {
    "rtl": "\u202e",
    "zero_width": "\u200b",
    "homoglyph": "\u0430",  # Cyrillic a
    "nul": "\x00",
    "esc": "\x1b[31m",
    "crlf": "\r\n",
    "del": "\x7f",
    "c1": "\x85",
}
CONTROL_TRICKS = ("nul", "esc", "crlf", "del", "c1")


@dataclass
class Case:
    name: str
    value: bytes | None
    dlq: str | None = None
    result_id: str | None = None
    error: str | None = None
    files: dict[str, str | None] = field(default_factory=dict)
    keys: set[tuple[str, str]] = field(default_factory=set)
    headers: list[tuple[str, Any]] = field(default_factory=list)
    reply_topic: str | None = None
    traceparent: str | None = None
    metadata: dict[str, str] | None = None
    producer: dict[str, Any] = field(default_factory=dict)
    key: bytes = b""

    @property
    def kind(self) -> str:
        if self.result_id is None:
            return "dlq only"
        return "rejected" if self.error else "accepted"


@dataclass
class Context:
    staging: Path  # the allowed root
    outside: Path  # a sibling directory outside every root
    dest: str  # default bucket
    alt_bucket: str  # a second allowed bucket
    s3_staging: str  # bucket with the allowed s3 prefix `staged/`
    alt_topic: str  # a second allowed reply topic
    put_staged: Callable[[str, bytes], None]  # writes s3://s3_staging/<key>
    max_file_bytes: int = 65536
    allowed_content_types: tuple[str, ...] = ("application/pdf", "image/*", "text/plain")


class Builder:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.rng = random.Random(1234)
        self.cases: list[Case] = []

    # -- building blocks -------------------------------------------------------------------

    def rid(self) -> str:
        return f"h-{len(self.cases):03d}"

    def blob(
        self,
        label: str,
        size: int = 96,
        *,
        name: str | None = None,
        content_type: str = "application/pdf",
        filename: str | None = "doc.pdf",
        data: bytes | None = None,
    ) -> tuple[dict[str, Any], str]:
        body = data if data is not None else (f"{label}|".encode() + self.rng.randbytes(size))
        safe = "".join(c if c.isalnum() else "-" for c in label)[:80]
        path = self.ctx.staging / (name or f"{safe}-{self.rng.randrange(10**9)}.bin")
        path.write_bytes(body)
        sha = hashlib.sha256(body).hexdigest()
        ref = {
            "uri": f"file://{path}",
            "size": len(body),
            "sha256": sha,
            "content_type": content_type,
            "filename": filename,
        }
        return ref, sha

    def ref(
        self,
        uri: str,
        size: int = 10,
        sha: str = "0" * 64,
        content_type: str = "application/pdf",
        filename: str | None = "doc.pdf",
    ) -> dict[str, Any]:
        return {
            "uri": uri,
            "size": size,
            "sha256": sha,
            "content_type": content_type,
            "filename": filename,
        }

    def request(self, files: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "request_id": self.rid(),
            "user_id": USER,
            "file_category": CATEGORY,
            "files": files,
            "created_at": "2026-11-28T12:00:00Z",
            **extra,
        }

    def key(
        self, file_type: str, sha: str, ext: str, user: str = USER, bucket: str | None = None
    ) -> tuple[str, str]:
        return (bucket or self.ctx.dest, f"{CATEGORY}/user_{user}/{file_type}/{sha}{ext}")

    def add(self, case: Case) -> None:
        case.key = f"case-{len(self.cases):03d}".encode()
        self.cases.append(case)

    def raw(self, name: str, value: bytes | None, dlq: str, **kw: Any) -> None:
        self.add(Case(name, value, dlq=dlq, **kw))

    def rejected(
        self, name: str, doc: dict[str, Any], code: str, *, identifiable: bool = True, **kw: Any
    ) -> None:
        rid = doc.get("request_id") if identifiable else None
        self.add(Case(name, json.dumps(doc).encode(), dlq=code, result_id=rid, error=code, **kw))

    def accepted(
        self,
        name: str,
        doc: dict[str, Any],
        files: dict[str, str | None],
        keys: set[tuple[str, str]] | None = None,
        **kw: Any,
    ) -> None:
        self.add(
            Case(
                name,
                json.dumps(doc).encode(),
                result_id=doc["request_id"],
                files=files,
                keys=keys or set(),
                **kw,
            )
        )

    def one_bad_file(
        self, name: str, ref: dict[str, Any], code: str | None, ext: str = ".pdf", **kw: Any
    ) -> None:
        """A request with `ref` as its only file, expecting `code` (None: uploaded)."""
        doc = self.request({"document": ref})
        keys = {self.key("document", ref["sha256"], ext)} if code is None else set()
        self.accepted(name, doc, {"document": code}, keys, **kw)

    def good(self, label: str = "good") -> tuple[dict[str, Any], set[tuple[str, str]]]:
        ref, sha = self.blob(label)
        return ref, {self.key("passport", sha, ".pdf")}


def build(ctx: Context) -> list[Case]:
    b = Builder(ctx)
    _malformed(b)
    _wrong_types(b)
    _tricks(b)
    _paths(b)
    _sizes(b)
    _request_level(b)
    _huge(b)
    _headers(b)
    return b.cases


# -- the corpus ------------------------------------------------------------------------------


def _malformed(b: Builder) -> None:
    valid = json.dumps(b.request({"passport": b.ref("file:///nope/x")})).encode()
    for name, value in [
        ("empty value", b""),
        ("tombstone (no value)", None),
        ("open brace", b"{"),
        ("unterminated array", b"[1,2"),
        ("missing value", b'{"a":}'),
        ("NaN", b'{"x": NaN}'),
        ("trailing garbage", b"{} trailing"),
        ("invalid UTF-8", b"\xff\xfe\x00{"),
        ("UTF-8 BOM before valid JSON", b"\xef\xbb\xbf" + valid),
        ("NUL bytes", b"\x00\x00\x00"),
        ("single quotes", b"{'request_id': 'x'}"),
        ("comment", b'{"a": 1 /* c */}'),
        ("unterminated string", b'{"request_id": "abc'),
        ("10,000-deep nesting", b"[" * 10_000 + b"]" * 10_000),
        ("lone surrogate escape", valid[:-1] + b', "metadata": {"k": "\\ud800"}}'),
        ("lone low surrogate in request_id", valid.replace(b'"h-', b'"\\udc80h-', 1)),
    ]:
        b.raw(f"malformed: {name}", value, "invalid_json")
    for name, value in [
        ("null", b"null"),
        ("string", b'"a string"'),
        ("array", b"[]"),
        ("number", b"123"),
        ("boolean", b"true"),
    ]:
        b.raw(f"not an object: {name}", value, "invalid_request")
    deep: Any = "x"
    for _ in range(150):
        deep = {"a": deep}
    b.rejected(
        "150-deep nesting in metadata",
        b.request({"p": b.ref("file:///x")}, metadata={"k": deep}),
        "invalid_request",
    )


def _wrong_types(b: Builder) -> None:
    f = {"p": b.ref("file:///x")}
    for name, changes, code, identifiable in [
        ("schema_version string", {"schema_version": "1"}, "invalid_request", True),
        ("schema_version true", {"schema_version": True}, "invalid_request", True),
        ("schema_version 1.0", {"schema_version": 1.0}, "invalid_request", True),
        ("schema_version 2", {"schema_version": 2}, "unsupported_schema_version", True),
        ("schema_version 999", {"schema_version": 999}, "unsupported_schema_version", True),
        ("request_id int", {"request_id": 123}, "invalid_request", False),
        ("user_id true", {"user_id": True}, "invalid_request", False),
        ("user_id float", {"user_id": 1.5}, "invalid_request", False),
        ("user_id list", {"user_id": ["u"]}, "invalid_request", False),
        ("user_id 65 chars", {"user_id": "u" * 65}, "invalid_request", False),
        ("files list", {"files": [f["p"]]}, "invalid_request", True),
        ("files empty", {"files": {}}, "invalid_request", True),
        ("files null", {"files": None}, "invalid_request", True),
        ("created_at words", {"created_at": "yesterday"}, "invalid_request", True),
        ("created_at epoch int", {"created_at": 1_700_000_000}, "invalid_request", True),
        ("created_at Feb 30", {"created_at": "2026-02-30T00:00:00Z"}, "invalid_request", True),
        ("attempt 0", {"attempt": 0}, "invalid_request", True),
        ("max_workers 0", {"max_workers": 0}, "invalid_request", True),
        ("max_workers 65", {"max_workers": 65}, "invalid_request", True),
        ("max_workers string", {"max_workers": "5"}, "invalid_request", True),
        (
            "metadata 33 entries",
            {"metadata": {f"k{i}": "v" for i in range(33)}},
            "invalid_request",
            True,
        ),
        ("metadata value 2 KiB", {"metadata": {"k": "v" * 2048}}, "invalid_request", True),
        ("metadata value int", {"metadata": {"k": 1}}, "invalid_request", True),
        ("metadata list", {"metadata": ["k"]}, "invalid_request", True),
        ("replay_of traversal", {"replay_of": "../x"}, "invalid_request", True),
    ]:
        doc = {**b.request(f), **changes}
        b.rejected(f"wrong type: {name}", doc, code, identifiable=identifiable)
    doc = b.request(f)
    del doc["request_id"]
    b.rejected("request_id missing", doc, "invalid_request", identifiable=False)
    for name, patch in [
        ("size string", {"size": "12"}),
        ("size negative", {"size": -1}),
        ("size float", {"size": 1.5}),
        ("size bool", {"size": True}),
        ("sha256 uppercase", {"sha256": "A" * 64}),
        ("sha256 short", {"sha256": "0" * 63}),
        ("content_type missing", {"content_type": None}),
        ("content_type no slash", {"content_type": "pdf"}),
        ("uri int", {"uri": 123}),
        ("uri http", {"uri": "http://169.254.169.254/latest/meta-data/"}),
        ("uri file with host", {"uri": "file://localhost/etc/passwd"}),
        ("filename int", {"filename": 5}),
    ]:
        ref = {**b.ref("file:///x"), **patch}
        b.rejected(f"wrong type: {name}", b.request({"p": ref}), "invalid_request")
    # An int user_id is allowed and normalised (the key then says user_12345).
    ref, sha = b.blob("int-user")
    doc = b.request({"passport": ref}, user_id=12345)
    b.accepted(
        "user_id int is normalised",
        doc,
        {"passport": None},
        {b.key("passport", sha, ".pdf", user="12345")},
    )


def _tricks(b: Builder) -> None:
    f = {"p": b.ref("file:///x")}
    for trick, chars in TRICKS.items():
        b.rejected(
            f"{trick} in request_id",
            b.request(f, request_id=f"h{chars}x"),
            "invalid_request",
            identifiable=False,
        )
        b.rejected(
            f"{trick} in user_id",
            b.request(f, user_id=f"u{chars}"),
            "invalid_request",
            identifiable=False,
        )
        b.rejected(
            f"{trick} in file_category",
            b.request(f, file_category=f"kyc{chars}"),
            "invalid_request",
        )
        b.rejected(
            f"{trick} in file_type", b.request({f"pass{chars}port": f["p"]}), "invalid_request"
        )
        b.rejected(
            f"{trick} in content_type",
            b.request({"p": {**f["p"], "content_type": f"image/jp{chars}eg"}}),
            "invalid_request",
        )
        b.rejected(
            f"{trick} in bucket", b.request(f, bucket=f"{b.ctx.dest}{chars}"), "bucket_not_allowed"
        )
        b.rejected(
            f"{trick} in reply_topic",
            b.request(f, reply_topic=f"uploads{chars}"),
            "reply_topic_not_allowed",
        )
        # Free text: accepted as is, never used for a path or a key (only an ASCII extension).
        ext = ".pdf"
        if trick == "rtl":
            filename = "passport\u202efdp.exe"  # shows as passportexe.pdf
            ext = ".exe"
        else:
            filename = f"pass{chars}port.pdf"
        ref, sha = b.blob(f"filename-{trick}", filename=filename)
        metadata = {f"key{chars}": f"value{chars}"}
        b.accepted(
            f"{trick} in filename and metadata",
            b.request({"passport": ref}, metadata=metadata),
            {"passport": None},
            {b.key("passport", sha, ext)},
            metadata=metadata,
        )
        if trick in CONTROL_TRICKS:
            b.rejected(
                f"{trick} in uri",
                b.request({"p": {**f["p"], "uri": f"file://{b.ctx.staging}/a{chars}b"}}),
                "invalid_request",
            )
            b.rejected(
                f"{trick} in created_at",
                b.request(f, created_at=f"2026-11-28T12:00:00Z{chars}"),
                "invalid_request",
            )
    # Unicode that is legal in a URI: the file simply is not there, or is not allowed.
    b.one_bad_file(
        "rtl in uri, no such file",
        b.ref(f"file://{b.ctx.staging}/doc\u202efdp.exe"),
        "source_not_found",
    )
    ref, sha = b.blob("rtl-name", name="real\u202efdp.exe")
    b.one_bad_file("rtl in a real staged file name", ref, None)
    homoglyph_root = b.ctx.staging.parent / b.ctx.staging.name.replace("a", "\u0430")
    homoglyph_root.mkdir(exist_ok=True)
    (homoglyph_root / "x.pdf").write_bytes(b"lookalike root")
    b.one_bad_file(
        "homoglyph staging root", b.ref(f"file://{homoglyph_root}/x.pdf", 14), "source_not_allowed"
    )
    b.one_bad_file(
        "zero-width in the root", b.ref(f"file://{b.ctx.staging}\u200b/x.pdf"), "source_not_allowed"
    )
    b.one_bad_file(
        "homoglyph extension falls back to content type",
        b.blob("ext-homoglyph", filename="x.\u0440df")[0],
        None,
    )
    b.one_bad_file(
        "extension too long falls back", b.blob("ext-long", filename="x.abcdefghijk")[0], None
    )
    ref, sha = b.blob("ext-upper", filename="SCAN.JPEG", content_type="image/jpeg")
    b.one_bad_file("upper-case extension is lower-cased", ref, None, ext=".jpeg")
    ref, sha = b.blob("traversal-filename", filename="../../../../etc/passwd")
    b.one_bad_file("traversal in filename (only the extension is used)", ref, None)
    ref, sha = b.blob("abs-filename", filename="/root/.ssh/id_rsa.pub")
    b.one_bad_file("absolute filename", ref, None, ext=".pub")
    ref, sha = b.blob("dotdot-filename", filename="..")
    b.one_bad_file("filename '..'", ref, None)


def _paths(b: Builder) -> None:
    ctx = b.ctx
    s = ctx.staging
    secret = ctx.outside / "secret.pdf"
    secret.write_bytes(b"outside the allow-list")
    ok_ref, _ = b.blob("link-target")
    (s / "fifo").exists() or os.mkfifo(s / "fifo")
    (s / "subdir").mkdir(exist_ok=True)
    links = {
        "to-passwd": "/etc/passwd",
        "to-environ": "/proc/self/environ",
        "to-zero": "/dev/zero",
        "to-outside": str(secret),
        "dir-outside": str(ctx.outside),
        "to-inside": ok_ref["uri"].removeprefix("file://"),
        "loop-a": str(s / "loop-b"),
        "loop-b": str(s / "loop-a"),
    }
    for name, target in links.items():
        if not (s / name).is_symlink():
            (s / name).symlink_to(target)
    na = "source_not_allowed"
    for name, uri, code in [
        ("dot-dot segment", f"file://{s}/../{ctx.outside.name}/secret.pdf", na),
        ("percent-encoded dot-dot", f"file://{s}/%2e%2e/{ctx.outside.name}/secret.pdf", na),
        ("absolute path outside", "file:///etc/passwd", na),
        ("/proc/self/environ", "file:///proc/self/environ", na),
        ("/dev/zero", "file:///dev/zero", na),
        ("/dev/urandom", "file:///dev/urandom", na),
        ("FIFO inside the root", f"file://{s}/fifo", na),
        ("directory inside the root", f"file://{s}/subdir", na),
        ("the root itself", f"file://{s}/", na),
        ("symlink to /etc/passwd", f"file://{s}/to-passwd", na),
        ("symlink to /proc/self/environ", f"file://{s}/to-environ", na),
        ("symlink to /dev/zero", f"file://{s}/to-zero", na),
        ("symlink out of the root", f"file://{s}/to-outside", na),
        ("symlinked directory out of the root", f"file://{s}/dir-outside/secret.pdf", na),
        ("symlink loop", f"file://{s}/loop-a", na),
        ("four slashes", "file:////etc/passwd", na),
        ("query string", f"file://{s}/x.pdf?x=1", na),
        ("fragment", f"file://{s}/x.pdf#frag", na),
        ("percent-encoded NUL", f"file://{s}/x%00.pdf", na),
        ("missing file", f"file://{s}/does-not-exist.pdf", "source_not_found"),
        ("name longer than NAME_MAX", f"file://{s}/{'n' * 300}.pdf", "source_not_found"),
        ("path longer than PATH_MAX", f"file://{s}/{'d/' * 2100}x.pdf", "source_not_found"),
        ("s3 bucket outside the allow-list", "s3://not-allowed-bucket/staged/x", na),
        ("s3 prefix outside the allow-list", f"s3://{ctx.s3_staging}/other/x", na),
        ("s3 dot-dot", f"s3://{ctx.s3_staging}/staged/../other/x", na),
        ("s3 empty segment", f"s3://{ctx.s3_staging}/staged//x", na),
        ("s3 missing object", f"s3://{ctx.s3_staging}/staged/missing", "source_not_found"),
    ]:
        b.one_bad_file(f"path: {name}", b.ref(uri, 22), code)
    b.one_bad_file(
        "symlink inside the root to a file inside the root",
        {**ok_ref, "uri": f"file://{s}/to-inside"},
        None,
    )
    data = b"staged in s3|" + b.rng.randbytes(64)
    sha = hashlib.sha256(data).hexdigest()
    ctx.put_staged("staged/good.pdf", data)
    uri = f"s3://{ctx.s3_staging}/staged/good.pdf"
    b.one_bad_file("s3 staged object", b.ref(uri, len(data), sha), None)
    b.one_bad_file("s3 staged object, size lies", b.ref(uri, len(data) + 1, sha), "size_mismatch")
    b.one_bad_file(
        "s3 staged object, sha256 lies", b.ref(uri, len(data), "1" * 64), "checksum_mismatch"
    )


def _sizes(b: Builder) -> None:
    ref, _ = b.blob("size")
    b.one_bad_file("size smaller than the file", {**ref, "size": ref["size"] - 1}, "size_mismatch")
    b.one_bad_file("size larger than the file", {**ref, "size": ref["size"] + 1}, "size_mismatch")
    b.one_bad_file("sha256 lies", {**ref, "sha256": "f" * 64}, "checksum_mismatch")
    empty, _ = b.blob("empty", data=b"")
    b.one_bad_file("0-byte file", empty, None)
    b.one_bad_file("0-byte file claiming 10 bytes", {**empty, "size": 10}, "size_mismatch")
    big, _ = b.blob("big", size=b.ctx.max_file_bytes + 10)
    b.one_bad_file("file over max_file_bytes", big, "too_large")
    b.one_bad_file("claimed size of 1 TB", {**ref, "size": 10**12}, "too_large")
    for name, content_type, code, ext in [
        ("content type not allowed", "application/x-sh", "content_type_not_allowed", ""),
        ("text/html not allowed", "text/html", "content_type_not_allowed", ""),
        ("image/* allows IMAGE/PNG", "IMAGE/PNG", None, ".pdf"),
    ]:
        typed, _ = b.blob(f"ct-{name}", content_type=content_type)
        b.one_bad_file(name, typed, code, ext=ext)
    # One request, good and bad files together: partial, each file with its own code.
    good, good_sha = b.blob("mixed-good")
    same, _ = b.blob("mixed-same", data=b"the same bytes twice")
    files = {
        "passport": good,
        "selfie": {**good, "sha256": "e" * 64},
        "copy_a": same,
        "copy_b": same,
        "evil": b.ref("file:///etc/shadow"),
    }
    same_sha = same["sha256"]
    b.accepted(
        "mixed request: partial with per-file codes",
        b.request(files),
        {
            "passport": None,
            "selfie": "checksum_mismatch",
            "copy_a": None,
            "copy_b": None,
            "evil": "source_not_allowed",
        },
        {
            b.key("passport", good_sha, ".pdf"),
            b.key("copy_a", same_sha, ".pdf"),
            b.key("copy_b", same_sha, ".pdf"),
        },
    )


def _request_level(b: Builder) -> None:
    ctx = b.ctx
    ref, keys = b.good("rl")
    many = {f"f{i}": ref for i in range(101)}
    b.rejected("101 files", b.request(many), "too_many_files")
    b.rejected(
        "10,000 files (tiny entries)",
        b.request({f"f{i}": 0 for i in range(10_000)}),
        "too_many_files",
    )
    full = b.request({f"f{i}": ref for i in range(10_000)})
    b.add(
        Case(
            "10,000 files (full BlobRefs, gzip, over 1 MB)",
            json.dumps(full).encode(),
            dlq="too_many_files",
            result_id=full["request_id"],
            error="too_many_files",
            producer={"compression.type": "gzip", "message.max.bytes": 20_000_000},
        )
    )
    for name, bucket in [
        ("unknown bucket", "some-other-bucket"),
        ("traversal bucket", "../" + ctx.dest),
        ("empty bucket", ""),
    ]:
        b.rejected(
            f"bucket: {name}", b.request({"passport": ref}, bucket=bucket), "bucket_not_allowed"
        )
    alt_ref, alt_sha = b.blob("alt-bucket")
    b.accepted(
        "bucket: the other allowed bucket",
        b.request({"passport": alt_ref}, bucket=ctx.alt_bucket),
        {"passport": None},
        {b.key("passport", alt_sha, ".pdf", bucket=ctx.alt_bucket)},
    )
    for name, topic in [
        ("__consumer_offsets", "__consumer_offsets"),
        ("__transaction_state", "__transaction_state"),
        ("the DLQ", "uploads.requests.dlq"),
        ("empty", ""),
    ]:
        b.rejected(
            f"reply_topic: {name}",
            b.request({"passport": ref}, reply_topic=topic),
            "reply_topic_not_allowed",
        )
    alt_topic_ref, alt_topic_sha = b.blob("alt-topic")
    b.accepted(
        "reply_topic: the other allowed topic",
        b.request({"passport": alt_topic_ref}, reply_topic=ctx.alt_topic),
        {"passport": None},
        {b.key("passport", alt_topic_sha, ".pdf")},
        reply_topic=ctx.alt_topic,
    )
    del keys


def _huge(b: Builder) -> None:
    big = 300_000
    f = {"p": b.ref("file:///x")}
    b.rejected(
        "huge request_id", b.request(f, request_id="r" * big), "invalid_request", identifiable=False
    )
    b.rejected(
        "huge user_id", b.request(f, user_id="u" * big), "invalid_request", identifiable=False
    )
    b.rejected("huge file_type", b.request({"p" * big: f["p"]}), "invalid_request")
    b.rejected(
        "huge content_type",
        b.request({"p": {**f["p"], "content_type": "image/" + "x" * big}}),
        "invalid_request",
    )
    b.rejected("huge bucket", b.request(f, bucket="b" * big), "bucket_not_allowed")
    ref, sha = b.blob("huge-filename", filename="n" * big + ".pdf")
    b.one_bad_file("huge filename", ref, None)
    ref, sha = b.blob("huge-metadata-key")
    metadata = {"k" * big: "v"}
    b.accepted(
        "huge metadata key",
        b.request({"passport": ref}, metadata=metadata),
        {"passport": None},
        {b.key("passport", sha, ".pdf")},
        metadata=metadata,
    )
    b.one_bad_file("huge uri", b.ref(f"file://{b.ctx.staging}/{'u' * big}"), "source_not_found")


def _headers(b: Builder) -> None:
    forged = [
        ("dlq_reason_code", b"bucket_not_allowed"),
        ("dlq_reason", b"forged"),
        ("dlq_source_topic", b"elsewhere"),
        ("dlq_source_offset", b"-1"),
    ]
    ref, keys = b.good("hdr-forged")
    b.accepted(
        "headers: forged dlq_* on a valid request",
        b.request({"passport": ref}),
        {"passport": None},
        keys,
        headers=forged,
    )
    b.raw("headers: forged dlq_* on a broken request", b'{"broken', "invalid_json", headers=forged)
    for name, headers, traceparent in [
        ("huge header value", [("x-junk", b"j" * 200_000)], None),
        ("1,000 headers", [(f"x-h{i}", b"v") for i in range(1000)], None),
        ("header without a value", [("x-none", None)], None),
        ("non-UTF-8 traceparent", [("traceparent", b"\xff\xfe\xfd")], None),
        ("CRLF in traceparent", [("traceparent", (TRACEPARENT + "\r\nX-Evil: 1").encode())], None),
        ("upper-case traceparent", [("traceparent", TRACEPARENT.upper().encode())], None),
        ("traceparent version ff", [("traceparent", ("ff" + TRACEPARENT[2:]).encode())], None),
        (
            "all-zero trace id",
            [("traceparent", ("00-" + "0" * 32 + TRACEPARENT[35:]).encode())],
            None,
        ),
        ("valid traceparent is copied", [("traceparent", TRACEPARENT.encode())], TRACEPARENT),
        (
            "two traceparents: the last counts",
            [("traceparent", b"garbage"), ("traceparent", TRACEPARENT.encode())],
            TRACEPARENT,
        ),
        (
            "forged correlation_id and event_type",
            [("correlation_id", b"someone-else"), ("event_type", b"upload.result.v1")],
            None,
        ),
    ]:
        ref, keys = b.good(f"hdr-{name}")
        b.accepted(
            f"headers: {name}",
            b.request({"passport": ref}),
            {"passport": None},
            keys,
            headers=headers,
            traceparent=traceparent,
        )

"""The staging sweep: what the consumer's deletes leave behind, past its retention.

The consumer deletes a file's staged blob once its result is committed; what stays is
tickets never submitted, failed files (kept for replay), deletes that failed, and the
temporary files of staging that was interrupted. `plan` lists those older than the cutoff
under every staging root, plus incomplete multipart uploads older than the cutoff in the
staging roots and the destination buckets; `execute` deletes and aborts them.

Only names the project's stagers and tickets write are touched (`<prefix><32 hex>`, or
`<prefix><scope>/<32 hex>` in a user's staging scope, schemas/staging_scope.py, and
`.<32 hex>.tmp` in a directory), so a staging root shared with anything else is safe.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from schemas.staging_scope import SCOPE_PATTERN

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_BLOB = re.compile(r"^[0-9a-f]{32}$")
_SCOPED_BLOB = re.compile(r"^(?:u[0-9a-f]{16}/)?[0-9a-f]{32}$")
_SCOPE_DIR = re.compile(SCOPE_PATTERN)
_TEMP = re.compile(r"^\.[0-9a-f]{32}\.tmp$")
_S3_ROOT = re.compile(r"^s3://([^/]+)/(.*)$")
_DELETE_BATCH = 1000  # DeleteObjects' limit


@dataclass(frozen=True)
class Item:
    kind: str  # "blob" (S3), "file" (directory) or "multipart"
    bucket: str  # the bucket, or the directory for a file
    key: str  # the key, or the file name
    size: int = 0
    upload_id: str = ""


@dataclass
class SweepReport:
    cutoff: str
    dry_run: bool
    roots: list[str]
    found: dict[str, int] = field(default_factory=dict)
    done: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    bytes_found: int = 0
    bytes_deleted: int = 0

    def count(self, table: dict[str, int], kind: str) -> None:
        table[kind] = table.get(kind, 0) + 1

    def as_json(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff,
            "dry_run": self.dry_run,
            "roots": self.roots,
            "found": self.found,
            "deleted": self.done,
            "failed": self.failed,
            "bytes_found": self.bytes_found,
            "bytes_deleted": self.bytes_deleted,
        }


def plan(
    roots: Iterable[str],
    destination_buckets: Iterable[str],
    *,
    cutoff: datetime,
    client: S3Client | None,
) -> list[Item]:
    """Everything the sweep would delete or abort, oldest first per root."""
    items: list[Item] = []
    for root in roots:
        if root.startswith("file://"):
            items.extend(_directory_items(Path(root.removeprefix("file://")), cutoff))
            continue
        match = _S3_ROOT.fullmatch(root)
        if match is None or client is None:
            continue
        bucket, prefix = match.group(1), match.group(2)
        items.extend(_s3_items(client, bucket, prefix, cutoff))
        items.extend(_multipart_items(client, bucket, prefix, cutoff))
    if client is not None:
        for bucket in destination_buckets:
            items.extend(_multipart_items(client, bucket, "", cutoff))
    return items


def execute(
    items: list[Item],
    report: SweepReport,
    *,
    client: S3Client | None,
    on_item: Callable[[str], None] = lambda _outcome: None,
) -> SweepReport:
    """Delete or abort every item (nothing with `report.dry_run`); failures are counted."""
    for item in items:
        report.count(report.found, item.kind)
        report.bytes_found += item.size
    if report.dry_run:
        for _item in items:
            on_item("would_delete")
        return report
    blobs = [i for i in items if i.kind == "blob"]
    for start in range(0, len(blobs), _DELETE_BATCH):
        _delete_blobs(client, blobs[start : start + _DELETE_BATCH], report, on_item)
    for item in items:
        if item.kind == "blob":
            continue
        try:
            if item.kind == "file":
                os.unlink(os.path.join(item.bucket, item.key))
                report.bytes_deleted += item.size
            elif client is not None:
                client.abort_multipart_upload(
                    Bucket=item.bucket, Key=item.key, UploadId=item.upload_id
                )
        except FileNotFoundError:
            pass
        except (OSError, BotoCoreError, ClientError):
            report.count(report.failed, item.kind)
            on_item("failed")
            continue
        report.count(report.done, item.kind)
        on_item("deleted")
    return report


def _delete_blobs(
    client: S3Client | None,
    batch: list[Item],
    report: SweepReport,
    on_item: Callable[[str], None],
) -> None:
    if client is None or not batch:
        return
    sizes = {item.key: item.size for item in batch}
    try:
        response = client.delete_objects(
            Bucket=batch[0].bucket,
            Delete={"Objects": [{"Key": item.key} for item in batch], "Quiet": True},
        )
        errors = {str(e.get("Key")) for e in response.get("Errors", [])}
    except (BotoCoreError, ClientError):
        errors = set(sizes)
    for key, size in sizes.items():
        if key in errors:
            report.count(report.failed, "blob")
            on_item("failed")
        else:
            report.count(report.done, "blob")
            report.bytes_deleted += size
            on_item("deleted")


def _s3_items(client: S3Client, bucket: str, prefix: str, cutoff: datetime) -> list[Item]:
    found: list[Item] = []
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for obj in page.get("Contents", []):
            key = str(obj["Key"])
            name = key[len(prefix) :]
            if _SCOPED_BLOB.fullmatch(name) and obj["LastModified"] < cutoff:
                found.append(Item("blob", bucket, key, int(obj.get("Size", 0))))
    return found


def _multipart_items(client: S3Client, bucket: str, prefix: str, cutoff: datetime) -> list[Item]:
    found: list[Item] = []
    pages = client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for upload in page.get("Uploads", []):
            if upload["Initiated"] < cutoff:
                found.append(
                    Item("multipart", bucket, str(upload["Key"]), upload_id=str(upload["UploadId"]))
                )
    return found


def _directory_items(directory: Path, cutoff: datetime, *, scopes: bool = True) -> list[Item]:
    """Blobs and temporary files in `directory`, and (`scopes`) in its staging-scope
    directories; symlinks are never followed."""
    found: list[Item] = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return found
    limit = cutoff.timestamp()
    for entry in entries:
        if scopes and _SCOPE_DIR.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
            found.extend(_directory_items(Path(entry.path), cutoff, scopes=False))
            continue
        if not (_BLOB.fullmatch(entry.name) or _TEMP.fullmatch(entry.name)):
            continue
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISREG(info.st_mode) and info.st_mtime < limit:
            found.append(Item("file", str(directory), entry.name, info.st_size))
    return found

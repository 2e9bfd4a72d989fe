"""How DLQ records look on a terminal and in `--json` (one object per line).

Text output passes every hostile string through `escape_text`/`preview_bytes`. JSON is
written with `ensure_ascii`, which escapes every control and non-ASCII character, so
`--json` is terminal-safe too.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from schemas import format_rfc3339
from upload_stream_cli.ops.dlq_reader import DlqRecord
from upload_stream_cli.ops.text import escape_text, preview_bytes


def to_json(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=True, sort_keys=True)


def _time(value: datetime | None) -> str | None:
    return format_rfc3339(value) if value is not None else None


def _or_dash(text: str | None) -> str:
    return escape_text(text) if text else "-"


def dlq_line(item: DlqRecord) -> str:
    record = item.record
    source = (
        f"{_or_dash(item.source_topic)}/{item.source_partition}/{item.source_offset}"
        if item.source_topic
        else "-"
    )
    parts = [
        f"{record.partition}:{record.offset}",
        _time(item.when) or "-",
        escape_text(item.code, 40),
        f"request={_or_dash(item.request_id)}",
        f"user={_or_dash(item.user_id)}",
        f"source={source}",
        f"reason={_or_dash(item.reason)}",
    ]
    if not item.decodable:
        parts.append(f"value={preview_bytes(record.value)}")
    return "  ".join(parts)


def dlq_object(item: DlqRecord, *, detail: bool = False) -> dict[str, Any]:
    record = item.record
    obj: dict[str, Any] = {
        "type": "record",
        "partition": record.partition,
        "offset": record.offset,
        "reason_code": item.code,
        "reason": item.reason,
        "source_topic": item.source_topic,
        "source_partition": item.source_partition,
        "source_offset": item.source_offset,
        "failed_at": _time(item.when),
        "request_id": item.request_id,
        "user_id": item.user_id,
        "decodable": item.decodable,
        "value_bytes": len(record.value) if record.value is not None else None,
    }
    if detail:
        obj["decode_error"] = (
            {"code": str(item.decode_error.code), "message": item.decode_error.message}
            if item.decode_error
            else None
        )
        obj["headers"] = [
            [name, value.decode("utf-8", "backslashreplace") if value is not None else None]
            for name, value in record.headers
        ]
        obj["key_base64"] = base64.b64encode(record.key).decode() if record.key else None
        obj["value_base64"] = base64.b64encode(record.value).decode() if record.value else None
    return obj


def dlq_detail(item: DlqRecord) -> list[str]:
    """`dlq show`: one record, every field, each hostile string escaped."""
    record = item.record
    lines = [f"record {record.partition}:{record.offset}"]
    for name, value in dlq_object(item).items():
        if name not in {"type", "partition", "offset"}:
            lines.append(f"  {name}: {'-' if value is None else escape_text(str(value))}")
    if item.decode_error is not None:
        lines.append(
            f"  decode_error: {item.decode_error.code}: {escape_text(item.decode_error.message)}"
        )
    if item.request is not None:
        files = ", ".join(sorted(item.request.files))
        lines.append(f"  files: {files}")
        lines.append(
            f"  attempt: {item.request.attempt}  replay_of: "
            f"{item.request.replay_of or '-'}  bucket: {_or_dash(item.request.bucket)}"
        )
    lines.append(f"  key: {preview_bytes(record.key)}")
    lines.append(f"  value: {preview_bytes(record.value, 120)}")
    for name, value in record.headers:
        lines.append(f"  header {escape_text(name, 60)}: {preview_bytes(value, 120)}")
    return lines


def count_by_code(items: Iterable[DlqRecord]) -> Counter[str]:
    return Counter(item.code for item in items)


def counts_lines(counts: Counter[str]) -> list[str]:
    total = sum(counts.values())
    lines = [f"{total} record(s) by reason code:"]
    lines += [f"  {escape_text(code, 40)}: {n}" for code, n in sorted(counts.items())]
    return lines


def counts_object(counts: Counter[str]) -> dict[str, Any]:
    return {"type": "summary", "total": sum(counts.values()), "by_reason_code": dict(counts)}

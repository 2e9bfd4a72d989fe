"""A dead-lettered record, read leniently.

The value, key and every header may be garbage or hostile: parsing never raises, and
each field that cannot be read is None. The `dlq_*` headers are the consumer's (it drops
forged ones before adding its own), the rest are the producer's, untrusted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import TypeAdapter, ValidationError

from schemas import RequestDecodeError, UploadRequest, decode_request, header
from schemas.codec import (
    H_CORRELATION_ID,
    H_DLQ_FAILED_AT,
    H_DLQ_REASON,
    H_DLQ_REASON_CODE,
    H_DLQ_SOURCE_OFFSET,
    H_DLQ_SOURCE_PARTITION,
    H_DLQ_SOURCE_TOPIC,
)
from schemas.fields import DEFAULT_MAX_FILES_PER_REQUEST, RequestId, Timestamp
from upload_stream_cli.ops.filters import RecordFilter
from upload_stream_cli.ops.topics import TopicRecord

_TIMESTAMP: TypeAdapter[datetime] = TypeAdapter(Timestamp)
_REQUEST_ID: TypeAdapter[str] = TypeAdapter(RequestId)
_INT = re.compile(r"^[0-9]{1,19}$")
UNKNOWN_CODE = "unknown"


def _int_header(record: TopicRecord, name: str) -> int | None:
    text = header(record.headers, name)
    return int(text) if text is not None and _INT.fullmatch(text) else None


def _time_header(record: TopicRecord, name: str) -> datetime | None:
    try:
        return _TIMESTAMP.validate_python(header(record.headers, name))
    except ValidationError:
        return None


def _valid_request_id(text: str | None) -> str | None:
    try:
        return _REQUEST_ID.validate_python(text)
    except ValidationError:
        return None


@dataclass(frozen=True)
class DlqRecord:
    record: TopicRecord
    reason_code: str | None
    reason: str | None
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    failed_at: datetime | None
    request: UploadRequest | None
    decode_error: RequestDecodeError | None
    request_id: str | None
    user_id: str | None

    @property
    def code(self) -> str:
        """The reason code, or `unknown` when the header is missing or unreadable."""
        return self.reason_code or UNKNOWN_CODE

    @property
    def when(self) -> datetime | None:
        """When it was dead-lettered: the header, else the record's Kafka timestamp."""
        if self.failed_at is not None:
            return self.failed_at
        if self.record.timestamp_ms is None:
            return None
        return datetime.fromtimestamp(self.record.timestamp_ms / 1000, UTC)

    @property
    def decodable(self) -> bool:
        """Whether the value is JSON at all (else nothing in it can ever be replayed)."""
        return self.request is not None or (
            self.decode_error is not None and self.decode_error.code.value != "invalid_json"
        )

    def matches(self, selected: RecordFilter) -> bool:
        replay_of = self.request.replay_of if self.request else None
        file_types = self.request.files if self.request else {}
        return (
            selected.match_code(self.code)
            and selected.match_time(self.when)
            and selected.match_ids(request_ids=(self.request_id, replay_of), user_id=self.user_id)
            and (not selected.file_types or bool(selected.selected_file_types(file_types)))
        )


def parse_dlq_record(
    record: TopicRecord, *, max_files_per_request: int = DEFAULT_MAX_FILES_PER_REQUEST
) -> DlqRecord:
    request: UploadRequest | None = None
    error: RequestDecodeError | None = None
    request_id: str | None
    user_id: str | None
    try:
        request = decode_request(record.value, max_files_per_request=max_files_per_request)
        request_id, user_id = request.request_id, request.user_id
    except RequestDecodeError as exc:
        error = exc
        # The correlation header is the producer's claim; used only if it is a valid id.
        request_id = exc.request_id or _valid_request_id(header(record.headers, H_CORRELATION_ID))
        user_id = exc.user_id
    return DlqRecord(
        record=record,
        reason_code=header(record.headers, H_DLQ_REASON_CODE),
        reason=header(record.headers, H_DLQ_REASON),
        source_topic=header(record.headers, H_DLQ_SOURCE_TOPIC),
        source_partition=_int_header(record, H_DLQ_SOURCE_PARTITION),
        source_offset=_int_header(record, H_DLQ_SOURCE_OFFSET),
        failed_at=_time_header(record, H_DLQ_FAILED_AT),
        request=request,
        decode_error=error,
        request_id=request_id,
        user_id=user_id,
    )


def read_dlq(
    records: Iterable[TopicRecord],
    selected: RecordFilter,
    *,
    max_files_per_request: int = DEFAULT_MAX_FILES_PER_REQUEST,
) -> Iterator[DlqRecord]:
    for record in records:
        parsed = parse_dlq_record(record, max_files_per_request=max_files_per_request)
        if parsed.matches(selected):
            yield parsed

"""What a request leaves behind on Kafka: its result and, when rejected, its dead letter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from schemas import (
    Headers,
    RequestErrorCode,
    UploadResult,
    dlq_headers,
    encode_result,
    message_key,
    result_headers,
)
from schemas.codec import RawHeaders


class OutputKind(StrEnum):
    RESULT = "result"
    DLQ = "dlq"


@dataclass(frozen=True)
class Output:
    """One record to produce. Built by upload greenlets, produced only by the Kafka owner."""

    kind: OutputKind
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers


def result_output(topic: str, result: UploadResult, traceparent: str | None) -> Output:
    return Output(
        kind=OutputKind.RESULT,
        topic=topic,
        key=message_key(result.user_id),
        value=encode_result(result),
        headers=result_headers(result, traceparent),
    )


@dataclass(frozen=True)
class RequestMessage:
    """A fetched request message as it came off Kafka: where it was (the DLQ headers name
    it) and its raw key, value and headers (a dead letter copies them unchanged)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: RawHeaders


def dlq_output(
    dlq_topic: str, source: RequestMessage, code: RequestErrorCode, reason: str
) -> Output:
    """The original key and value unchanged, the original headers plus the `dlq_*` ones."""
    return Output(
        kind=OutputKind.DLQ,
        topic=dlq_topic,
        key=source.key,
        value=source.value,
        headers=dlq_headers(
            source.headers,
            code=code,
            reason=reason,
            source_topic=source.topic,
            source_partition=source.partition,
            source_offset=source.offset,
            failed_at=datetime.now(UTC),
        ),
    )

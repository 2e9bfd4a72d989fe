"""What goes into the upload engine and what comes out.

The Kafka consumer and `AWSService` both speak to the engine only through these types, so
the engine knows nothing of Kafka and the consumer nothing of S3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from schemas import BlobRef, FileFailure, StoredObject


@dataclass(frozen=True)
class LocalBlob:
    """An in-process file object (direct mode: a Django upload, an open file, BytesIO).

    Trusted: it comes from the calling application, not from an event, so no allow-list
    applies. Its size and sha256 are computed by the engine, not claimed.
    """

    stream: BinaryIO
    content_type: str
    filename: str | None = None


Source = BlobRef | LocalBlob


@dataclass(frozen=True)
class UploadJob:
    """One request's files, already validated against the contract and the consumer policy."""

    request_id: str
    user_id: str
    file_category: str
    bucket: str
    files: Mapping[str, Source]
    max_workers: int


@dataclass(frozen=True)
class UploadOutcome:
    """Per file, the stored object or the failure; every file type of the job is in one."""

    objects: dict[str, StoredObject] = field(default_factory=dict)
    failures: dict[str, FileFailure] = field(default_factory=dict)
    # File types of `objects` found already stored (verified), their source never read.
    already_stored: frozenset[str] = frozenset()
    started_at: datetime | None = None
    finished_at: datetime | None = None

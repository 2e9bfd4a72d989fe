"""The producer side of upload-stream: stage and publish requests, or upload directly.

`from producer_lib import AWSService` is the legacy concurrent-upload API;
`from producer_lib import UploadClient` stages, publishes and awaits results (request/reply);
`ResultReader` reads results downstream. Every name is loaded on first use (PEP 562), and
neither importing producer_lib nor naming its settings, errors, `AWSService` or
`UploadClient` imports boto3 or confluent_kafka (tests/unit/producer_lib/test_imports.py): a
gevent application must be able to monkey-patch before boto3 is imported, and direct mode
never needs librdkafka.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from producer_lib.aws_service import AWSService
    from producer_lib.client import PendingUpload, UploadClient, UploadSpec
    from producer_lib.dir_staging import DirStager
    from producer_lib.errors import (
        ProducerLibError,
        PublishError,
        ReplyChannelError,
        ResultTimeout,
        StagingError,
    )
    from producer_lib.kafka_transport import KafkaTransport
    from producer_lib.publisher import RequestPublisher
    from producer_lib.reader import ResultReader, UnreadableResult
    from producer_lib.reply_router import ReplyRouter
    from producer_lib.s3_staging import S3Stager
    from producer_lib.settings import ProducerSettings

_WHERE = {
    "AWSService": "producer_lib.aws_service",
    "UploadClient": "producer_lib.client",
    "UploadSpec": "producer_lib.client",
    "PendingUpload": "producer_lib.client",
    "DirStager": "producer_lib.dir_staging",
    "S3Stager": "producer_lib.s3_staging",
    "KafkaTransport": "producer_lib.kafka_transport",
    "ProducerLibError": "producer_lib.errors",
    "PublishError": "producer_lib.errors",
    "ReplyChannelError": "producer_lib.errors",
    "ResultTimeout": "producer_lib.errors",
    "StagingError": "producer_lib.errors",
    "RequestPublisher": "producer_lib.publisher",
    "ResultReader": "producer_lib.reader",
    "UnreadableResult": "producer_lib.reader",
    "ReplyRouter": "producer_lib.reply_router",
    "ProducerSettings": "producer_lib.settings",
}

__all__ = [
    "AWSService",
    "DirStager",
    "KafkaTransport",
    "PendingUpload",
    "ProducerLibError",
    "ProducerSettings",
    "PublishError",
    "ReplyChannelError",
    "ReplyRouter",
    "RequestPublisher",
    "ResultReader",
    "ResultTimeout",
    "S3Stager",
    "StagingError",
    "UnreadableResult",
    "UploadClient",
    "UploadSpec",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'producer_lib' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

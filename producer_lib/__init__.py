"""The producer side of upload-stream: stage and publish requests, or upload directly.

`from producer_lib import AWSService` is the legacy concurrent-upload API. It is loaded on
first use (PEP 562), so importing another producer_lib module does not import boto3:
a gevent application must be able to monkey-patch before boto3 is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from producer_lib.aws_service import AWSService

__all__ = ["AWSService"]


def __getattr__(name: str) -> Any:
    if name == "AWSService":
        from producer_lib.aws_service import AWSService

        return AWSService
    raise AttributeError(f"module 'producer_lib' has no attribute {name!r}")

"""The upload engine: staged blobs and local files into S3, verified and content-addressed.

Public API: `UploadEngine(settings, s3_client=None)`, `.upload(job) -> UploadOutcome`,
`.close()`; the I/O types live in `upload_engine.model`, the settings in
`upload_engine.settings`. Names are loaded on first use (PEP 562): the model and the
settings import without boto3, so the producer library can name them before a gevent
application has monkey-patched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from upload_engine.engine import UploadEngine
    from upload_engine.model import LocalBlob, Source, UploadJob, UploadOutcome

_WHERE = {
    "UploadEngine": "upload_engine.engine",
    "LocalBlob": "upload_engine.model",
    "Source": "upload_engine.model",
    "UploadJob": "upload_engine.model",
    "UploadOutcome": "upload_engine.model",
}

__all__ = ["LocalBlob", "Source", "UploadEngine", "UploadJob", "UploadOutcome"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'upload_engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

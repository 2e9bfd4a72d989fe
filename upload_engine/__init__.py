"""The upload engine: staged blobs and local files into S3, verified and content-addressed.

Public API: `UploadEngine(settings, s3_client=None)`, `.upload(job) -> UploadOutcome`,
`.close()`; the I/O types live in `upload_engine.model`.
"""

from upload_engine.engine import UploadEngine
from upload_engine.model import LocalBlob, Source, UploadJob, UploadOutcome

__all__ = ["LocalBlob", "Source", "UploadEngine", "UploadJob", "UploadOutcome"]

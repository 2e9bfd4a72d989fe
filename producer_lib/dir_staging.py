"""Staging into a shared directory, for deployments where producer and consumer share a
filesystem (and for local development)."""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from pathlib import Path

from producer_lib.errors import StagingError
from producer_lib.staging import (
    BlobSource,
    Digest,
    chunks_of,
    filename_of,
    hashed,
)
from schemas import BlobRef
from upload_engine.mime import content_type_of

# The root ends up verbatim in file:// URIs; the contract forbids nothing but control
# characters, but the consumer's allow-list compares prefixes, so keep it plain.
_PLAIN_PATH = re.compile(r"^/[A-Za-z0-9._/-]*$")
_BLOB_NAME = re.compile(r"^[0-9a-f]{32}$")


class DirStager:
    """Writes each blob to `<dir>/.<id>.tmp`, fsyncs, then renames to `<dir>/<id>`, so the
    consumer never sees a half-written file. Files are 0640, the directory 0700 when created.
    """

    def __init__(self, directory: Path, *, file_mode: int = 0o640) -> None:
        path = Path(os.path.abspath(directory))
        if not _PLAIN_PATH.fullmatch(str(path)):
            raise ValueError("staging directory must be an absolute path of [A-Za-z0-9._/-]")
        self._dir = path
        self._file_mode = file_mode

    @property
    def root(self) -> str:
        return f"file://{self._dir}/"

    def stage(
        self, source: BlobSource, *, content_type: str | None = None, filename: str | None = None
    ) -> BlobRef:
        name = filename_of(source, filename)
        ctype = content_type_of(content_type, getattr(source, "content_type", None), filename=name)
        blob_id = uuid.uuid4().hex
        final = self._dir / blob_id
        temp = self._dir / f".{blob_id}.tmp"
        digest = Digest()
        try:
            self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(temp, flags, self._file_mode)
            with os.fdopen(fd, "wb") as out:
                os.fchmod(out.fileno(), self._file_mode)  # exact, whatever the umask
                for chunk in hashed(chunks_of(source), digest):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.rename(temp, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise StagingError(f"staging into {self._dir} failed: {exc.strerror}") from exc
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        return BlobRef(
            uri=f"file://{final}",
            size=digest.size,
            sha256=digest.sha256,
            content_type=ctype,
            filename=name,
        )

    def delete(self, ref: BlobRef) -> None:
        path = Path(ref.uri.removeprefix("file://"))
        if path.parent != self._dir or not _BLOB_NAME.fullmatch(path.name):
            return
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

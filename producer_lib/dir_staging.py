"""Staging into a shared directory, for deployments where producer and consumer share a
filesystem (and for local development)."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any

from producer_lib.errors import StagingError
from producer_lib.staging import (
    BLOB_NAME,
    BlobSource,
    Digest,
    blob_name,
    chunks_of,
    filename_of,
    hashed,
)
from schemas import BlobRef
from upload_engine.mime import content_type_of

# The root ends up verbatim in file:// URIs; the contract forbids nothing but control
# characters, but the consumer's allow-list compares prefixes, so keep it plain.
_PLAIN_PATH = re.compile(r"^/[A-Za-z0-9._/-]*$")


class DirStager:
    """Writes each blob to `<dir>/<scope>/.<id>.tmp`, fsyncs, then renames to
    `<dir>/<scope>/<id>` (`<dir>/<id>` with no user), so the consumer never sees a
    half-written file. Files are 0640, directories 0700 when created.
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
        self,
        source: BlobSource,
        *,
        content_type: str | None = None,
        filename: str | None = None,
        user_id: Any = None,
    ) -> BlobRef:
        name = filename_of(source, filename)
        ctype = content_type_of(content_type, getattr(source, "content_type", None), filename=name)
        final = self._dir / blob_name(user_id)
        temp = final.parent / f".{final.name}.tmp"
        digest = Digest()
        try:
            self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            final.parent.mkdir(mode=0o700, exist_ok=True)
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
        relative = ref.uri.removeprefix(f"file://{self._dir}/")
        if not path.is_relative_to(self._dir) or not BLOB_NAME.fullmatch(relative):
            return
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

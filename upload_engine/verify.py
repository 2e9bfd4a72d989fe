"""Counting and hashing the bytes as they pass, against the size and sha256 claimed."""

from __future__ import annotations

import base64
import hashlib

from schemas import FileFailureCode
from upload_engine.errors import FileError


def b64_of_hex(sha256_hex: str) -> str:
    """S3's `ChecksumSHA256` form (base64 of the raw digest) of a hex digest."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


class Verifier:
    """Fails as soon as more bytes than claimed (or allowed) arrive; `finish` checks the rest."""

    def __init__(self, *, size: int, sha256: str, max_bytes: int) -> None:
        self.size = size
        self.sha256 = sha256
        self.max_bytes = max_bytes
        self.count = 0
        self._hash = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self.count += len(data)
        if self.count > self.max_bytes:
            raise FileError(
                FileFailureCode.TOO_LARGE, f"more than max_file_bytes={self.max_bytes} read"
            )
        if self.count > self.size:
            raise FileError(
                FileFailureCode.SIZE_MISMATCH, f"more than the claimed {self.size} bytes read"
            )
        self._hash.update(data)

    def finish(self) -> None:
        if self.count != self.size:
            raise FileError(
                FileFailureCode.SIZE_MISMATCH, f"read {self.count} bytes, claimed {self.size}"
            )
        if self._hash.hexdigest() != self.sha256:
            raise FileError(
                FileFailureCode.CHECKSUM_MISMATCH, "sha256 of the bytes read differs from the claim"
            )

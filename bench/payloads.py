"""The engine benchmarks' files: documents that are what they are declared to be.

Each is a one-page PDF followed by bytes unique to the file, declared `application/pdf`
(as a KYC upload is a PDF or an image), so the type check sees what it sees in production.
A repeated 4-byte pattern declared `application/octet-stream`, as these benchmarks once
sent, makes libmagic walk its whole database for a type it never finds
(`python -m bench.type_check_bench` prints the cost by kind of bytes).
"""

from __future__ import annotations

import io

from upload_stream_cli.demo_samples import pdf

DOCUMENT_TYPE = "application/pdf"


def documents(n: int, size: int) -> list[bytes]:
    head = pdf("SPECIMEN", ["bench"])
    return [head + i.to_bytes(4, "big") * ((size - len(head)) // 4) for i in range(n)]


def named(data: list[bytes]) -> dict[str, io.BytesIO]:
    """The seed API's `files` argument: file objects whose `.pdf` name declares the type, as
    Django's uploaded files do."""
    files = {}
    for i, blob in enumerate(data):
        stream = io.BytesIO(blob)
        stream.name = f"f{i}.pdf"
        files[f"f{i}"] = stream
    return files

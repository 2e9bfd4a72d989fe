"""Small files of real types for the content gate's tests, made in memory.

PNGs and PDFs come from the demo's own builders; JPEG, MP4, MOV, HEIC, ELF, PE, HTML and
office files are the least bytes their format's signature needs (each is what libmagic
says it is; tests/unit/upload_engine/test_gate.py checks that too). The EICAR test file is
assembled at run time from two halves, so no scanner on a developer machine quarantines
this source file.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile

from upload_stream_cli.demo_samples import pdf, png

_EICAR_HEAD = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$"
_EICAR_TAIL = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def eicar() -> bytes:
    """The standard antivirus test file (68 bytes)."""
    return (_EICAR_HEAD + _EICAR_TAIL).encode("ascii")


def eicar_hdb_line(name: str = "Test.EICAR.Local") -> str:
    """A clamd `.hdb` signature for `eicar()`: `md5:size:Name`."""
    data = eicar()
    return f"{hashlib.md5(data).hexdigest()}:{len(data)}:{name}\n"


def eicar_ndb_line(name: str = "Test.EICAR.Anywhere") -> str:
    """A clamd `.ndb` body signature: `eicar()` at any offset of any file."""
    return f"{name}:0:*:{eicar().hex()}\n"


def clamd_databases() -> dict[str, str]:
    """The tests' signature database: EICAR as a whole file and anywhere inside one."""
    return {"local.hdb": eicar_hdb_line(), "local.ndb": eicar_ndb_line()}


def png_bytes() -> bytes:
    return png(4, 3, (200, 30, 30))


def pdf_bytes() -> bytes:
    return pdf("SPECIMEN", ["a test document"])


def jpeg_bytes() -> bytes:
    """JFIF APP0, one quantisation table, end of image."""
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + app0 + b"\xff\xdb\x00\x43\x00" + bytes(range(64)) + b"\xff\xd9"


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def _ftyp(brand: bytes, compatible: list[bytes]) -> bytes:
    return _box(b"ftyp", brand + b"\x00\x00\x00\x00" + b"".join(compatible))


def mp4_bytes() -> bytes:
    """An ISO-BMFF header of a selfie video: ftyp isom, then an empty mdat."""
    return _ftyp(b"isom", [b"isom", b"iso2", b"mp41"]) + _box(b"free", b"") + _box(b"mdat", b"")


def mov_bytes() -> bytes:
    return _ftyp(b"qt  ", [b"qt  "]) + _box(b"wide", b"") + _box(b"mdat", b"")


def heic_bytes() -> bytes:
    return _ftyp(b"heic", [b"mif1", b"heic"]) + _box(b"meta", bytes(4))


def elf_bytes() -> bytes:
    """A 64-bit little-endian ELF executable header (x86-64)."""
    return b"\x7fELF\x02\x01\x01\x00" + bytes(8) + struct.pack("<HHI", 2, 62, 1) + bytes(40)


def pe_bytes() -> bytes:
    """An MZ stub pointing at a PE header (x86-64)."""
    dos = bytearray(b"MZ" + bytes(62))
    struct.pack_into("<I", dos, 60, 64)
    return bytes(dos) + b"PE\x00\x00" + struct.pack("<HH", 0x8664, 0) + bytes(200)


def html_bytes() -> bytes:
    return b"<!DOCTYPE html>\n<html><head><script>alert(1)</script></head></html>\n"


def script_bytes() -> bytes:
    return b"#!/bin/sh\necho hello\n"


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in entries.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def zip_bytes() -> bytes:
    return _zip({"a.txt": b"hello"})


def docx_bytes() -> bytes:
    return _zip(
        {"[Content_Types].xml": b"<Types/>", "_rels/.rels": b"<R/>", "word/document.xml": b"<w/>"}
    )

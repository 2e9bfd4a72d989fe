"""The demo's generated samples: valid PNG and PDF structure, the same bytes on every run."""

import hashlib
import re
import struct
import zlib

import pytest

from upload_stream_cli.demo_samples import PNG_SIGNATURE, corrupt_sample, kyc_batch, pdf, png


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data.startswith(PNG_SIGNATURE)
    chunks, pos = [], len(PNG_SIGNATURE)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC on {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    assert pos == len(data)
    return chunks


def test_png_structure_and_pixels() -> None:
    data = png(4, 3, (1, 2, 3), [(1, 1, 3, 2, (200, 100, 50))])
    chunks = png_chunks(data)
    assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">IIBBBBB", chunks[0][1]) == (4, 3, 8, 2, 0, 0, 0)
    raw = zlib.decompress(chunks[1][1])
    rows = [raw[i * 13 : (i + 1) * 13] for i in range(3)]
    assert len(raw) == 3 * (1 + 4 * 3)
    assert all(row[0] == 0 for row in rows)  # filter type None
    assert rows[0][1:] == bytes((1, 2, 3)) * 4
    assert rows[1][1:] == bytes((1, 2, 3)) + bytes((200, 100, 50)) * 2 + bytes((1, 2, 3))


def test_png_rejects_silly_sizes() -> None:
    with pytest.raises(ValueError):
        png(0, 10, (0, 0, 0))


def test_pdf_header_xref_and_trailer() -> None:
    data = pdf("TITLE (x)", ["line one", "back\\slash"])
    assert data.startswith(b"%PDF-1.4\n")
    assert data.endswith(b"%%EOF\n")
    startxref = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", data).group(1))  # type: ignore[union-attr]
    assert data[startxref:].startswith(b"xref\n0 6\n")
    offsets = re.findall(rb"(\d{10}) 00000 n \n", data)
    assert len(offsets) == 5
    for number, offset in enumerate(offsets, start=1):
        assert data[int(offset) :].startswith(b"%d 0 obj\n" % number)
    assert b"(TITLE \\(x\\)) Tj" in data and b"(back\\\\slash) Tj" in data
    length = int(re.search(rb"/Length (\d+) >>", data).group(1))  # type: ignore[union-attr]
    stream = data.split(b"stream\n", 1)[1].split(b"\nendstream", 1)[0]
    assert len(stream) == length


def test_pdf_rejects_non_ascii() -> None:
    with pytest.raises(ValueError):
        pdf("Pass\u00e9port", [])


def test_batch_is_valid_and_deterministic() -> None:
    first, second = kyc_batch(), kyc_batch()
    assert first == second
    assert [s.file_type for s in first] == [
        "passport",
        "id_card_front",
        "id_card_back",
        "selfie",
        "utility_bill",
    ]
    for sample in first:
        if sample.content_type == "image/png":
            png_chunks(sample.data)
        else:
            assert sample.content_type == "application/pdf"
            assert sample.data.startswith(b"%PDF-") and sample.data.endswith(b"%%EOF\n")
    assert len({hashlib.sha256(s.data).hexdigest() for s in first}) == len(first)


def test_corrupt_sample_differs_by_one_byte_of_the_same_size() -> None:
    damaged, intact = corrupt_sample()
    assert (damaged, intact) == corrupt_sample()
    assert len(damaged.data) == len(intact)
    assert sum(a != b for a, b in zip(damaged.data, intact, strict=True)) == 1

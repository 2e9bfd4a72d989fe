"""The type check: do a file's leading bytes contradict its declared `content_type`?

Detection is libmagic's (through python-magic), on the first `HEAD_BYTES` bytes of the
read that already hashes the file. libmagic was chosen over puremagic and filetype after
trying all three on the same samples (README, "The content gate"): it is the only one that
names shell and other scripts, tells a plain ZIP from a .docx/.xlsx and knows HEIC and PE
executables correctly; filetype knows no HTML or scripts at all, puremagic calls any ZIP a
.docx and an ELF nothing. Its cost per file depends on the bytes (libmagic stops at the
first rule that matches): a known image or PDF is cheap, bytes of no known type walk the
whole database, text also runs the text rules' regular expressions over the head; the
figures are `python -m bench.type_check_bench`'s.

The rule (docs/contract/upload-events-v1.md, "The content gate"):

- types libmagic does not know (`application/octet-stream`, `text/plain`, empty) pass;
- the same type after aliases passes (`image/jpg` = `image/jpeg`, ISO-BMFF videos are one);
- a declared generic type (`application/octet-stream`, `text/plain`) fails only for
  executables, HTML, SVG and scripts;
- `application/zip` accepts every ZIP-based type (an office document is a ZIP);
- an office document declared as such but detected as a plain ZIP passes only when the
  head holds the package's `[Content_Types].xml` part (libmagic's own OOXML rule looks only
  a little way into the archive, so a real document can read as a plain ZIP);
- anything else that differs is `content_type_mismatch`.
"""

from __future__ import annotations

import logging

import magic

from schemas import FileFailureCode
from upload_engine.classify import safe_repr
from upload_engine.errors import FileError

log = logging.getLogger(__name__)

# 8 KiB: libmagic's search rules cost more on every byte of head (16 KiB cost a fifth more
# than 8 KiB on bytes of no known type), and 8 KiB gave the same detected type as 16 KiB on
# the test samples and on a few thousand real files (images, PDFs, archives, executables,
# HTML, JavaScript, scripts, text); 1-2 KiB heads missed Python scripts and C sources.
# libmagic's own limit on regex rules (8 KiB) stays: at 4 KiB minified JavaScript read as
# plain text.
HEAD_BYTES = 8 * 1024

# What libmagic says when it does not know, plus TGA: a format without a magic number,
# which libmagic guesses from a weak header rule on arbitrary binary data.
_GENERIC = frozenset(
    {
        "application/octet-stream",
        "text/plain",
        "application/x-empty",
        "inode/x-empty",
        "image/x-tga",
    }
)
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "image/heif": "image/heic",
    "image/heic-sequence": "image/heic",
    "image/heif-sequence": "image/heic",
    "image/x-ms-bmp": "image/bmp",
    "application/x-pdf": "application/pdf",
    "text/xml": "application/xml",
    "application/x-zip-compressed": "application/zip",
    # One container format (ISO base media): phones label the same recording either way.
    "video/quicktime": "video/mp4",
    "video/x-m4v": "video/mp4",
    "video/3gpp": "video/mp4",
    "video/3gpp2": "video/mp4",
}
_EXECUTABLES = frozenset(
    {
        "application/x-executable",
        "application/x-pie-executable",
        "application/x-sharedlib",
        "application/x-object",
        "application/x-elf",
        "application/x-mach-binary",
        "application/x-dosexec",
        "application/x-msdownload",
        "application/vnd.microsoft.portable-executable",
        "application/java-archive",
        "application/x-java-applet",
    }
)
_ACTIVE = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "application/javascript",
        "text/javascript",
        "application/x-sh",
        "application/x-shellscript",
    }
)
_OOXML = "application/vnd.openxmlformats-officedocument."
_ZIP_BASED_PREFIXES = (_OOXML, "application/vnd.oasis.opendocument.", "application/vnd.ms-")
_ZIP_BASED = frozenset({"application/zip", "application/epub+zip", "application/java-archive"})
_OPC_CONTENT_TYPES = b"[Content_Types].xml"


def normalise(content_type: str) -> str:
    lowered = content_type.lower()
    return _ALIASES.get(lowered, lowered)


def dangerous(detected: str) -> bool:
    """Executables, HTML, SVG and scripts: what must never pass as another type."""
    if detected in _EXECUTABLES or detected in _ACTIVE:
        return True
    return detected.startswith("text/x-") and (
        "script" in detected or detected.endswith(("python", "perl", "php", "ruby", "msdos-batch"))
    )


def _zip_based(detected: str) -> bool:
    return detected in _ZIP_BASED or detected.startswith(_ZIP_BASED_PREFIXES)


def contradicts(declared: str, detected: str, head: bytes) -> bool:
    """True when the detected type contradicts the declared one (the rule above)."""
    want, got = normalise(declared), normalise(detected)
    if got in _GENERIC or got == want:
        return False
    if want in _GENERIC:
        return dangerous(got)
    if want == "application/zip" and _zip_based(got):
        return False
    if want.startswith(_OOXML) and got == "application/zip":
        return _OPC_CONTENT_TYPES not in head
    return True


# libmagic tests that name nothing the rule above looks at (compressed contents, tar, CSV,
# JSON, troff-like text tokens, OS/2 apps, SIMH tapes): skipping them cuts the cost on
# bytes of no known type (the README's content gate section), and leaves every type the
# rule names detected as before (tests/unit/upload_engine/test_gate.py).
# libmagic's magic.h values that python-magic does not name (libmagic 5.38+ / 5.40+).
_NO_CHECK_CSV, _NO_CHECK_JSON, _NO_CHECK_SIMH = 0x0080000, 0x0400000, 0x0800000
_SKIPPED_TESTS = (
    magic.MAGIC_NO_CHECK_COMPRESS
    | magic.MAGIC_NO_CHECK_TAR
    | magic.MAGIC_NO_CHECK_APPTYPE
    | magic.MAGIC_NO_CHECK_TOKENS
    | _NO_CHECK_CSV
    | _NO_CHECK_JSON
    | _NO_CHECK_SIMH
)


class TypeChecker:
    """One libmagic handle for the engine; python-magic serialises calls on it (a libmagic
    cookie is not thread-safe); each is one short C call on the head."""

    def __init__(self) -> None:
        self._magic = magic.Magic(mime=True)
        magic.magic_setflags(self._magic.cookie, magic.MAGIC_MIME_TYPE | _SKIPPED_TESTS)

    def detect(self, head: bytes) -> str:
        if not head:
            return "application/x-empty"
        try:
            found = self._magic.from_buffer(head[:HEAD_BYTES])
        except magic.MagicException as exc:
            # A type the detector cannot name passes, as documented.
            log.warning("libmagic could not read a file head: %s", type(exc).__name__)
            return "application/octet-stream"
        return str(found).strip().lower() or "application/octet-stream"

    def check(self, declared: str, head: bytes) -> str:
        """The detected type, or FileError(content_type_mismatch)."""
        detected = self.detect(head)
        if contradicts(declared, detected, head[:HEAD_BYTES]):
            raise FileError(
                FileFailureCode.CONTENT_TYPE_MISMATCH,
                f"declared {safe_repr(declared, 64)} but the bytes are {safe_repr(detected, 80)}",
            )
        return detected

"""Rendering attacker-controlled text and bytes for a terminal.

A DLQ record's value, key and headers come from anyone who can produce to the requests
topic. Printed raw, control characters could rewrite the terminal (ANSI escapes) or hide
text (bidi overrides), so everything shown passes through here first.
"""

from __future__ import annotations

DEFAULT_TEXT_LIMIT = 200
DEFAULT_PREVIEW_BYTES = 32


def escape_text(text: str, limit: int = DEFAULT_TEXT_LIMIT) -> str:
    """`text` with every non-printable character escaped, cut to `limit` characters.

    `str.isprintable` is false for control (Cc), format (Cf, incl. bidi overrides),
    surrogate and unassigned characters, so those are the ones escaped. Backslashes are
    doubled, so an escape in the output always means the input held that character.
    """
    out: list[str] = []
    for char in text[:limit]:
        if char == "\\":
            out.append("\\\\")
        elif char.isprintable():
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    if len(text) > limit:
        out.append("...")
    return "".join(out)


def preview_bytes(value: bytes | None, limit: int = DEFAULT_PREVIEW_BYTES) -> str:
    """A byte count and a short, safe preview: escaped text if UTF-8, else hex."""
    if value is None:
        return "<no value>"
    try:
        # Decode the whole value: a cut at `limit` bytes could split a character.
        shown = '"' + escape_text(value.decode("utf-8"), limit) + '"'
    except UnicodeDecodeError:
        shown = "hex:" + value[:limit].hex() + ("..." if len(value) > limit else "")
    return f"<{len(value)} bytes {shown}>"

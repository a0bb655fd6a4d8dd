"""Names from a store, made safe to print: every control character shown as an escape.

Tag names in ``index.json``, registry tags, repository names and error texts come from outside.
Printed raw, an ESC or BEL sequence in one clears the screen, sets the terminal title or forges
lines; a bidi override reorders what follows. :func:`safe` replaces each such character by a
visible escape (``\\x1b``, ``\\u202e``), so a name shows as what it is. Plain names, including any
printable Unicode, pass through unchanged (a fast path: most names are plain).
"""

from __future__ import annotations

from functools import lru_cache


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


@lru_cache(maxsize=4096)
def safe(text: str) -> str:
    """``text`` with every non-printable character (C0/C1 controls, DEL, line and paragraph
    separators, bidi and other format characters) escaped; one line, whatever the input."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def safe_lines(text: str) -> str:
    """Like :func:`safe` for text of several lines built by cachetui: keeps its newlines."""
    return "\n".join(safe(line) for line in text.split("\n"))

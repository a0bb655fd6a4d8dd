"""ASCII fallback for terminals whose output encoding cannot show box drawing or arrows.

With ``LANG=C`` or ``PYTHONIOENCODING=ascii`` Python writes ``\\u25bc`` for every glyph it cannot
encode, so the tree, borders and marks turned into escape soup. The driver's output is translated
instead: each glyph becomes its nearest ASCII look-alike (``?`` for the rest). Escape sequences are
ASCII already and pass untouched. Every replacement is one character, so layouts keep their
cells; key names the footer shows are spelled out (``enter``) before the footer measures them.
"""

from __future__ import annotations

import codecs
import sys

from textual.driver import Driver

GLYPHS = {
    "▼": "v", "▶": ">", "▸": ">", "▾": "v", "├": "|", "└": "`", "│": "|", "─": "-", "┌": "+",
    "┐": "+", "┘": "+", "┤": "|", "┬": "-", "┴": "-", "┼": "+", "╭": "+", "╮": "+", "╰": "+",
    "╯": "+", "━": "-", "┃": "|", "●": "*", "○": "o", "◉": "*", "✗": "x", "✓": "+", "✔": "+",
    "↑": "^", "↓": "v", "→": ">", "←": "<", "⏎": "R", "…": "~", "·": "-", "▔": "-", "▁": "_",
    "▊": "|", "▎": "|", "▕": "|", "▏": "|", "▐": "[", "▌": "]", "█": "#", "▇": "#", "▆": "#",
    "▅": "=", "▄": "=", "▃": "_", "▂": "_", "░": ".", "▒": ":", "▓": "#", "≥": ">", "≤": "<",
    "×": "x", "−": "-", "–": "-", "—": "-", "\u00a0": " ", "›": ">", "▍": "|", "▋": "]",
    "▉": "#", "■": "#", "╸": "-", "╺": "-", "╴": "-", "╶": "-", "╹": "|", "╻": "|",
}
_TABLE = str.maketrans(GLYPHS)


def to_ascii(text: str) -> str:
    """``text`` with every non-ASCII character replaced by a look-alike (or ``?``)."""
    if text.isascii():
        return text
    return text.translate(_TABLE).encode("ascii", "replace").decode("ascii")


def output_is_ascii(encoding: str | None = None) -> bool:
    """Whether the terminal's output encoding cannot show the UI's glyphs."""
    encoding = encoding if encoding is not None else getattr(sys.__stdout__, "encoding", None)
    if not encoding:
        return False
    try:
        codecs.lookup(encoding)
        "▼✗●".encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return True
    return False


def ascii_driver(base: type[Driver]) -> type[Driver]:
    """``base`` with every write translated by :func:`to_ascii`."""

    class AsciiDriver(base):  # type: ignore[valid-type,misc]
        def write(self, data: str) -> None:
            super().write(to_ascii(data))

    AsciiDriver.__name__ = f"Ascii{base.__name__}"
    return AsciiDriver

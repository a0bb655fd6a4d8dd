"""A scrollable, highlighted JSON view that renders only the visible lines (Line API).

Pretty-printing and highlighting run in a thread (see the cache screen), so multi-megabyte
cache configs never stall the event loop.
"""

from __future__ import annotations

import json
from typing import ClassVar

from rich.segment import Segment
from rich.syntax import Syntax
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from cachetui.tui.keymap import identify

MAX_HIGHLIGHT_BYTES = 2 * 1024 * 1024
"""Above this, lines are shown plain: highlighting megabytes of JSON costs seconds."""


def pretty_lines(raw: bytes | None) -> list[Text]:
    """Indented, highlighted lines of a JSON document (plain text when it is not JSON)."""
    if raw is None:
        return [Text("(no document)", style="dim")]
    try:
        text = json.dumps(json.loads(raw), indent=2)
    except ValueError:
        text = raw.decode("utf-8", "replace")
    if len(text) > MAX_HIGHLIGHT_BYTES:
        return [Text(line) for line in text.splitlines()]
    syntax = Syntax(text, "json", theme="ansi_dark", background_color="default")
    return list(syntax.highlight(text).split("\n", allow_blank=True))


class RawView(ScrollView, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = identify("raw", [
        Binding("j,down", "scroll_down", "Down", show=False),
        Binding("k,up", "scroll_up", "Up", show=False),
        Binding("g,home", "scroll_home", "Top", show=False),
        Binding("G,end", "scroll_end", "Bottom", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
    ])

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.lines: list[Text] = [Text("formatting…", style="dim")]
        self._strips: dict[int, Strip] = {}

    def set_lines(self, lines: list[Text]) -> None:
        self.lines = lines
        self._strips.clear()
        width = max((line.cell_len for line in lines[:5000]), default=0)
        self.virtual_size = Size(width + 1, len(lines))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        width = self.scrollable_content_region.width
        if index >= len(self.lines):
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(index)
        if strip is None:
            segments = [s for s in self.lines[index].render(self.app.console) if s.text != "\n"]
            strip = Strip(segments or [Segment("")])
            self._strips[index] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

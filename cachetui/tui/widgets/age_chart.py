"""Bytes by age as a bar chart (people read a histogram faster than a table).

The bars are block characters; on a terminal whose encoding cannot show them they are drawn with
``#`` (the app's ASCII mode), never left to the driver's per-glyph fallback, which would turn a
bar's eighth-blocks into a ragged mix of ``|`` and ``]``.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import RenderableType
from rich.text import Text
from textual.widget import Widget

from cachetui.ops.space import AgeBar
from cachetui.present.space import chart_lines


class AgeChart(Widget):
    """One line per age bucket: label, bar, bytes, blob count."""

    DEFAULT_CSS = """
    AgeChart { height: auto; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.bars: tuple[AgeBar, ...] = ()

    def show(self, bars: Sequence[AgeBar]) -> None:
        self.bars = tuple(bars)
        self.refresh(layout=True)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return max(len(self.bars), 1)

    def render(self) -> RenderableType:
        if not self.bars:
            return Text("…", style="dim")
        ascii_only = bool(getattr(self.app, "ascii_only", False))
        lines = chart_lines(self.bars, width=max(self.size.width, 20), ascii_only=ascii_only)
        return Text("\n".join(lines), no_wrap=True)

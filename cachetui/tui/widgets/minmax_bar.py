"""A bar of final-image bytes against intermediate-only bytes (what mode=max adds)."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.widget import Widget

from cachetui.buildkit.analysis import MinMax
from cachetui.tui.model import percent, size


class MinMaxBar(Widget):
    """Two-colour bar with sizes and percentages, and the clean-builder caveat."""

    DEFAULT_CSS = """
    MinMaxBar { height: 4; }
    """

    def __init__(self, minmax: MinMax, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.minmax = minmax

    def render(self) -> RenderableType:
        mm = self.minmax
        width = max(self.size.width, 10)
        total = mm.max_bytes
        final_cells = round(width * mm.min_bytes / total) if total else 0
        bar = Text()
        bar.append("█" * final_cells, style="green")
        bar.append("█" * (width - final_cells), style="dark_orange" if total else "grey35")
        legend = Text()
        legend.append("■ ", style="green")
        legend.append(f"final image {size(mm.min_bytes)} ({percent(mm.min_bytes, total)})")
        legend.append("   ■ ", style="dark_orange")
        legend.append(f"intermediate only {size(mm.delta_bytes)} "
                      f"({percent(mm.delta_bytes, total)})")
        note = Text("Estimate for a clean builder: min keeps the final image's layers; a warm "
                    "builder may export more.", style="italic dim")
        return Text("\n").join([bar, legend, note])

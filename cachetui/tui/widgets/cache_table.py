"""The main cache table: one row per tag, rendered from parsed summaries."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from cachetui.tui.model import (
    Row,
    SortKey,
    compact_age,
    compact_size,
    compression_label,
)

COLUMNS: tuple[tuple[str, SortKey, int | None], ...] = (
    ("Ref", SortKey.NAME, 16),
    ("Where", SortKey.WHERE, 14),
    ("Form", SortKey.FORM, 8),
    ("Comp", SortKey.COMPRESSION, 4),
    ("Lay", SortKey.LAYERS, 3),
    ("Size", SortKey.SIZE, 6),
    ("Min", SortKey.MIN, 6),
    ("+Max", SortKey.DELTA, 6),
    ("Newest", SortKey.AGE, 6),
    ("Unref", SortKey.UNREFERENCED, 6),
)
FORM_LABELS = {"image-manifest": "manifest", "docker-list": "docker"}


def _fit(text: str, width: int | None) -> str:
    if width is None or len(text) <= width:
        return text
    return "…" + text[-(width - 1):]


class CacheTable(DataTable[Text | str]):
    """Rows are keyed by :attr:`Row.key`; :meth:`show` re-renders and keeps the cursor row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.rows_shown: list[Row] = []

    def on_mount(self) -> None:
        for title, key, width in COLUMNS:
            self.add_column(title, key=str(key), width=width)

    def current_key(self) -> str | None:
        if not self.rows_shown or self.cursor_row < 0 or self.cursor_row >= len(self.rows_shown):
            return None
        return self.rows_shown[self.cursor_row].key

    def current(self) -> Row | None:
        key = self.current_key()
        return None if key is None else next(r for r in self.rows_shown if r.key == key)

    def show(self, rows: list[Row], *, marked: set[str], unreferenced: dict[str, int | None],
             labels: dict[str, str], now: datetime) -> None:
        keep = self.current_key()
        at_top = self.cursor_row <= 0
        self.clear()
        self.rows_shown = rows
        self.add_rows([self.cells(row, row.key in marked, unreferenced, labels, now)
                       for row in rows])
        if at_top:
            return
        for index, row in enumerate(rows):
            if row.key == keep:
                self.move_cursor(row=index, animate=False)
                break

    def cells(self, row: Row, marked: bool, unreferenced: dict[str, int | None],
              labels: dict[str, str], now: datetime) -> list[Text | str]:
        entry = row.entry
        name = Text.assemble(("● " if marked else "  ", "bold yellow"), _fit(entry.tag, 14))
        where = _fit(labels.get(row.source_id, entry.source), 14)
        analysis = entry.analysis
        if analysis is None:
            problem = Text("✗ error", style="bold red")
            return [name, where, problem, "", "", "", "", "", "", ""]
        unref = unreferenced.get(row.source_id) if entry.kind == "directory" else None
        form = str(analysis.document.format)
        return [
            name,
            where,
            FORM_LABELS.get(form, form),
            compression_label(analysis.compression),
            Text(str(analysis.layer_count), justify="right"),
            Text(compact_size(analysis.size_bytes), justify="right"),
            Text(compact_size(analysis.minmax.min_bytes), justify="right"),
            Text(compact_size(analysis.minmax.delta_bytes), justify="right"),
            compact_age(analysis.created_newest, now).removesuffix(" ago"),
            Text(compact_size(unref) if unref is not None else "-", justify="right"),
        ]

    def action_scroll_top(self) -> None:
        self.move_cursor(row=0)

    def action_scroll_bottom(self) -> None:
        self.move_cursor(row=max(self.row_count - 1, 0))

"""The main cache table: one row per tag, rendered from parsed summaries."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from cachetui.present.safe_text import safe
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
COLUMN_KEYS = tuple(str(key) for _, key, _ in COLUMNS)
REBUILD_REMOVALS = 64
"""Removing a row is linear in the table size: above this many removals, rebuild instead."""
FORM_LABELS = {"image-manifest": "manifest", "docker-list": "docker"}


def _fit(text: str, width: int | None) -> str:
    if width is None or len(text) <= width:
        return text
    return "…" + text[-(width - 1):]


def _signature(cell: Text | str) -> object:
    """What a cell looks like, for deciding whether it changed (Text equality ignores style)."""
    if isinstance(cell, str):
        return cell
    return cell.plain, str(cell.style), cell.justify, tuple(cell.spans)


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
        self._cells: dict[str, list[Text | str]] = {}
        """The cells last shown, by row key, in display order."""

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
        """Bring the table to ``rows`` with the fewest changes; the cursor stays on its row.

        Only new rows are added (the table measures every added cell, so re-adding 300 rows ten
        times a second while sources stream in stalled the event loop), changed cells are
        updated in place, and a changed order is a reorder, not a rebuild.
        """
        keep = self.current_key()
        at_top = self.cursor_row <= 0
        wanted = {row.key: self.cells(row, row.key in marked, unreferenced, labels, now)
                  for row in rows}
        removed = [key for key in self._cells if key not in wanted]
        if len(removed) > REBUILD_REMOVALS and 2 * len(removed) > len(self._cells):
            self.clear()
            self._cells.clear()
            removed = []
        for key in removed:
            self.remove_row(key)
            del self._cells[key]
        for row in rows:
            cells = wanted[row.key]
            old = self._cells.get(row.key)
            if old is None:
                self.add_row(*cells, key=row.key)
                self._cells[row.key] = cells
                continue
            for index, (before, after) in enumerate(zip(old, cells, strict=True)):
                if _signature(before) != _signature(after):
                    self.update_cell(row.key, COLUMN_KEYS[index], after)
                    old[index] = after
        order = [row.key for row in rows]
        if list(self._cells) != order:
            self._reorder(order)
        self.rows_shown = rows
        if at_top:
            return
        for index, row in enumerate(rows):
            if row.key == keep:
                if index != self.cursor_row:
                    self.move_cursor(row=index, animate=False)
                break

    def _reorder(self, order: list[str]) -> None:
        """Put the rows in ``order`` (a :meth:`DataTable.sort` keyed by each row's first cell)."""
        position = {id(self._cells[key][0]): index for index, key in enumerate(order)}
        self.sort(key=lambda values: position[id(values[0])])
        self._cells = {key: self._cells[key] for key in order}

    def cells(self, row: Row, marked: bool, unreferenced: dict[str, int | None],
              labels: dict[str, str], now: datetime) -> list[Text | str]:
        entry = row.entry
        name = Text.assemble(("● " if marked else "  ", "bold yellow"), _fit(safe(entry.tag), 14))
        where = Text(_fit(safe(labels.get(row.source_id, entry.source)), 14))
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

"""The main cache table: one row per tag, rendered from parsed summaries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets._data_table import _EMPTY_TEXT, default_cell_formatter
from textual.widgets.data_table import RowKey

from cachetui.ops.inventory import CacheEntry
from cachetui.present.forms import format_name
from cachetui.present.safe_text import safe
from cachetui.tui.keymap import identify
from cachetui.tui.model import (
    Row,
    SortKey,
    compact_age,
    compact_age_until,
    compact_size,
    compression_label,
)
from cachetui.tui.widgets import column_fit

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
"""Title, sort key and the width a column starts with (before any row is known)."""
COLUMN_KEYS = tuple(str(key) for _, key, _ in COLUMNS)
KEEP_ORDER = (SortKey.NAME, SortKey.SIZE, SortKey.AGE, SortKey.WHERE, SortKey.DELTA, SortKey.MIN,
              SortKey.UNREFERENCED, SortKey.FORM, SortKey.COMPRESSION, SortKey.LAYERS)
"""Most useful first: on a narrow terminal the columns at the end of this list hide first."""
FLEXIBLE = {SortKey.NAME: 14, SortKey.WHERE: 8}
"""Columns that may be cut (with an ellipsis) down to this width; the others always show whole."""
REBUILD_REMOVALS = 64
"""Removing a row is linear in the table size: above this many removals, rebuild instead."""
MARK_WIDTH = 2
RENDERED_CELLS = 4096
"""Cell renderings kept (a screenful is a few hundred cells, each in a few styles)."""

Layout = column_fit.Layout


def _fit(text: str, width: int | None) -> str:
    if width is None or len(text) <= width:
        return text
    return "…" + text[-(width - 1):]


def _fit_cell(cell: Text | str, width: int, index: int) -> Text | str:
    """The cell cut to ``width``; names keep their end (tags differ at the end: pr-1234)."""
    if isinstance(cell, str):
        return _fit(cell, width)
    if cell.cell_len <= width:
        return cell
    if index == 0:  # the mark, then the name
        marker = cell[:MARK_WIDTH]
        return Text.assemble(marker, _fit(cell.plain[MARK_WIDTH:], width - MARK_WIDTH))
    return Text(_fit(cell.plain, width), style=cell.style, justify=cell.justify)


def natural_widths(rows: Iterable[tuple[int, ...]]) -> list[int]:
    """The width each column needs to show its title and every cell whole, from each row's
    cell widths."""
    titles = tuple(len(title) for title, _, _ in COLUMNS)
    return [max(column) for column in zip(titles, *rows, strict=True)]


def fit_columns(natural: list[int], available: int) -> Layout:
    """Which columns show and how wide, for ``available`` cells (:mod:`column_fit`)."""
    index_of = {key: index for index, (_, key, _) in enumerate(COLUMNS)}
    return column_fit.fit_columns(
        natural, [index_of[key] for key in KEEP_ORDER],
        {index_of[key]: width for key, width in FLEXIBLE.items()}, available)


@dataclass(slots=True)
class _Made:
    """One row's cells and their widths, and the inputs they were made from."""

    entry: CacheEntry
    inputs: tuple[bool, str, int | None, str]
    """(marked, source label, unreferenced bytes, age text)."""
    cells: list[Text | str]
    widths: tuple[int, ...]
    since: datetime
    """The age text is right from this moment ..."""
    until: datetime | None
    """... until this one (None: for ever)."""

    def age_holds(self, now: datetime) -> bool:
        return self.since <= now and (self.until is None or now < self.until)


@dataclass(slots=True)
class _Rendered:
    """A cell's rendering, with the value it shows and the position it was made for."""

    value: object
    row: int
    column: int
    lines: list[list[Segment]]


def _signature(cell: Text | str) -> object:
    """What a cell looks like, for deciding whether it changed (Text equality ignores style)."""
    if isinstance(cell, str):
        return cell
    return cell.plain, str(cell.style), cell.justify, tuple(cell.spans)


class CacheTable(DataTable[Text | str]):
    """Rows are keyed by :attr:`Row.key`; :meth:`show` re-renders and keeps the cursor row."""

    BINDINGS: ClassVar[list[BindingType]] = identify("table", [
        Binding("enter", "select_cursor", "Open"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ])

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.rows_shown: list[Row] = []
        self._cells: dict[str, list[Text | str]] = {}
        """Every column's cell last shown (uncut), by row key, in display order."""
        self._shown: dict[str, list[Text | str]] = {}
        """The cells as the table holds them: shown columns only, cut to their widths."""
        self.layout_now: Layout = ()
        self._natural = [width or len(title) for title, _, width in COLUMNS]
        self._made: dict[str, _Made] = {}
        """The cells last made for each row key, with what they were made from."""
        self._rendered: LRUCache[tuple[object, ...], _Rendered] = LRUCache(RENDERED_CELLS)
        """Cell renderings by what they depend on (:meth:`_render_cell`)."""
        self._unstyled: LRUCache[tuple[object, ...], _Rendered] = LRUCache(RENDERED_CELLS)
        """Cell renderings before the row's and the cursor's styles, by value and width."""
        self._row_styles: dict[tuple[int, object], Style] = {}
        """The zebra stripes' styles, by parity and pseudo-classes (:meth:`_get_row_style`)."""

    def on_mount(self) -> None:
        self._apply_layout(self._layout())

    def on_resize(self) -> None:
        layout = self._layout()
        if layout != self.layout_now:
            self._rebuild(layout)

    def _layout(self, rows: int | None = None) -> Layout:
        rows = self.row_count if rows is None else rows
        # the header takes a line; a scrollbar only when the rows do not fit
        scrollbar = self.styles.scrollbar_size_vertical if rows >= self.size.height else 0
        available = self.size.width - scrollbar
        return fit_columns(self._natural, available if available > 0 else 80)

    def _apply_layout(self, layout: Layout) -> None:
        self.layout_now = layout
        for index, width in layout:
            title, key, _ = COLUMNS[index]
            self.add_column(title, key=str(key), width=width)

    def shown_columns(self) -> list[str]:
        """Titles of the columns on screen, in order."""
        return [COLUMNS[index][0] for index, _ in self.layout_now]

    def fitted(self, cells: list[Text | str]) -> list[Text | str]:
        return [_fit_cell(cells[index], width, index) for index, width in self.layout_now]

    def _rebuild(self, layout: Layout) -> None:
        """New columns: every row is added again, and the cursor stays on its row."""
        keep = self.cursor_row
        self.clear(columns=True)
        self._apply_layout(layout)
        self._shown = {}
        for key, cells in self._cells.items():
            shown = self.fitted(cells)
            self.add_row(*shown, key=key)
            self._shown[key] = shown
        if 0 <= keep < self.row_count:
            self.move_cursor(row=keep, animate=False)

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
        updated in place, and a changed order is a reorder, not a rebuild. Columns are re-fitted
        when the content's widths change (rarely: a longer name arrives).
        """
        keep = self.current_key()
        at_top = self.cursor_row <= 0
        wanted: dict[str, list[Text | str]] = {}
        widths: list[tuple[int, ...]] = []
        for row in rows:
            made = self._made_cells(row, row.key in marked, unreferenced, labels, now)
            wanted[row.key] = made.cells
            widths.append(made.widths)
        for key in [key for key in self._made if key not in wanted]:
            del self._made[key]
        removed = [key for key in self._cells if key not in wanted]
        if len(removed) > REBUILD_REMOVALS and 2 * len(removed) > len(self._cells):
            self.clear()
            self._cells.clear()
            self._shown.clear()
            removed = []
        for key in removed:
            self.remove_row(key)
            del self._cells[key]
            del self._shown[key]
        self._natural = natural_widths(widths)
        layout = self._layout(len(rows))
        relayout = layout != self.layout_now
        for row in rows:
            cells = wanted[row.key]
            old = self._cells.get(row.key)
            if old is cells and not relayout:  # made from the same inputs as last time
                continue
            if old is None or relayout:
                self._cells[row.key] = cells
                if not relayout:
                    shown = self.fitted(cells)
                    self.add_row(*shown, key=row.key)
                    self._shown[row.key] = shown
                continue
            if any(_signature(b) != _signature(a) for b, a in zip(old, cells, strict=True)):
                self._cells[row.key] = cells
                shown = self.fitted(cells)
                for position, (before, after) in enumerate(
                        zip(self._shown[row.key], shown, strict=True)):
                    if _signature(before) != _signature(after):
                        column = COLUMN_KEYS[self.layout_now[position][0]]
                        self.update_cell(row.key, column, after)
                        self._shown[row.key][position] = after
        order = [row.key for row in rows]
        if relayout:
            self._cells = {key: self._cells[key] for key in order}
            self._rebuild(layout)
        elif list(self._cells) != order:
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
        position = {id(self._shown[key][0]): index for index, key in enumerate(order)}
        first = COLUMN_KEYS[self.layout_now[0][0]]  # only its cell goes to the key: no tuples
        self.sort(first, key=lambda value: position[id(value)])
        self._cells = {key: self._cells[key] for key in order}
        self._shown = {key: self._shown[key] for key in order}

    def _made_cells(self, row: Row, marked: bool, unreferenced: dict[str, int | None],
                    labels: dict[str, str], now: datetime) -> _Made:
        """The row's cells, made again only when what they show changed: with thousands of
        rows, making every cell on every redraw stalled the event loop while sources filled."""
        entry = row.entry
        label = labels.get(row.source_id, entry.source)
        unref = unreferenced.get(row.source_id) if entry.kind == "directory" else None
        made = self._made.get(row.key)
        if made is not None and made.entry is entry and made.inputs[:3] == (marked, label, unref) \
                and made.age_holds(now):
            return made
        analysis = entry.analysis
        age, until = ("", None) if analysis is None else compact_age_until(
            analysis.created_newest, now)
        if made is not None and made.entry is entry and made.inputs == (marked, label, unref, age):
            made.since, made.until = now, until
            return made
        cells = self.cells(row, marked, unreferenced, labels, now)
        made = _Made(entry, (marked, label, unref, age), cells,
                     tuple(cell.cell_len if isinstance(cell, Text) else len(cell)
                           for cell in cells), now, until)
        self._made[row.key] = made
        return made

    def cells(self, row: Row, marked: bool, unreferenced: dict[str, int | None],
              labels: dict[str, str], now: datetime) -> list[Text | str]:
        """Every column's cell, uncut (:meth:`fitted` fits them to the columns shown)."""
        entry = row.entry
        name = Text.assemble(("● " if marked else "  ", "bold yellow"), safe(entry.tag))
        where = Text(safe(labels.get(row.source_id, entry.source)))
        analysis = entry.analysis
        if analysis is None:
            # In the Size column: it shows at every width.
            problem = Text("failed", style="bold red")
            return [name, where, "", "", "", problem, "", "", "", ""]
        unref = unreferenced.get(row.source_id) if entry.kind == "directory" else None
        is_cache = analysis.document.is_cache
        return [
            name,
            where,
            format_name(entry.kind, analysis.document, short=True),
            compression_label(analysis.compression),
            Text(str(analysis.layer_count), justify="right"),
            Text(compact_size(analysis.size_bytes), justify="right"),
            Text(compact_size(analysis.minmax.min_bytes) if is_cache else "-", justify="right"),
            Text(compact_size(analysis.minmax.delta_bytes) if is_cache else "-", justify="right"),
            compact_age(analysis.created_newest, now).removesuffix(" ago"),
            Text(compact_size(unref) if unref is not None else "-", justify="right"),
        ]

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False) -> list[list[Segment]]:
        """A cell's lines, rendered through Rich again only when the cell's value changed.

        DataTable keys its render caches on a counter that every added row, sort and cell
        update moves, so each redraw while sources stream in rendered every visible cell
        through Rich again (most of a redraw's time, and the worst event-loop stalls with
        3,000 rows: ``bench/bench_scale.py``). Here a cell's lines are kept as styled for a
        row style, cursor and width (a cell that moved only gets its new position's mouse
        metadata added: a style of only metadata changes nothing else), and its unstyled lines
        by value and width, so a new row style (a row inserted above flips the zebra stripes
        below it) or the cursor only styles them again, as DataTable styles its cells.
        """
        if row_index < 0 or column_index < 0 or self.fixed_rows or self.fixed_columns:
            return super()._render_cell(row_index, column_index, base_style, width, cursor,
                                        hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        if row_key is None or column_key is None or self.rows[row_key].height != 1:
            return super()._render_cell(row_index, column_index, base_style, width, cursor,
                                        hover)
        value = self._data[row_key][column_key]
        padding = self.cell_padding
        show_cursor = self.show_cursor
        key = (id(value), base_style, width, cursor, hover, self._show_hover_cursor,
               show_cursor, self._pseudo_class_state, padding)
        rendered = self._rendered.get(key)
        if rendered is not None and rendered.value is value:
            if rendered.row != row_index or rendered.column != column_index:
                meta = Style.from_meta({"row": row_index, "column": column_index})
                rendered.lines = [[Segment(text, None if control or style is None
                                           else style + meta, control)
                                   for text, style, control in line] for line in rendered.lines]
                rendered.row, rendered.column = row_index, column_index
            return rendered.lines
        raw_key = (id(value), width, padding)
        raw = self._unstyled.get(raw_key)
        if raw is None or raw.value is not value:
            cell = _EMPTY_TEXT if value is None else (
                default_cell_formatter(value, wrap=False, height=1) or _EMPTY_TEXT)
            options = self.app.console_options.update_dimensions(width, 1).update(no_wrap=True)
            raw = _Rendered(value, -1, -1, self.app.console.render_lines(
                Padding(cell, (0, padding)), options))
            self._unstyled[raw_key] = raw
        # as DataTable._render_cell styles a cell (through textual.renderables.styled.Styled)
        component_style, post_style = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, show_cursor, self._show_hover_cursor,
            self.cursor_foreground_priority == "css", self.cursor_background_priority == "css")
        pre_style = base_style + Style.from_meta({"row": row_index, "column": column_index}) \
            + component_style
        lines = [list(Segment.apply_style(line, pre_style, post_style)) for line in raw.lines]
        self._rendered[key] = _Rendered(value, row_index, column_index, lines)
        return lines

    def _get_offsets(self, y: int) -> tuple[RowKey, int]:
        """The row at line ``y`` and the line within it: every row here is one line high, so
        the row is found by its index, without DataTable's list of every line's row, which it
        builds again after each added row or sort (3,000 entries at every redraw)."""
        if self.show_header:
            if y < self.header_height:
                return self._header_row_key, y
            y -= self.header_height
        if not 0 <= y < self.row_count:
            raise LookupError(f"Y coord {y!r} is greater than total height")
        key = self._row_locations.get_key(y)
        if key is None:
            raise LookupError(f"no row at {y!r}")
        return key, 0

    @property
    def _total_row_height(self) -> int:
        """Every row is one line high (:meth:`_get_offsets`)."""
        return self.row_count

    def _get_row_style(self, row_index: int, base_style: Style) -> Style:
        """A data row's style, kept per zebra stripe: DataTable computes it from the CSS for
        every line it draws (a third of a redraw's time once cells are kept). Dropped when the
        styles change, as DataTable drops its cell styles."""
        if row_index < 0 or row_index < self.fixed_rows or not self.zebra_stripes:
            return super()._get_row_style(row_index, base_style)
        key = (row_index % 2, self._pseudo_class_state)
        style = self._row_styles.get(key)
        if style is None:
            style = self._row_styles[key] = super()._get_row_style(row_index, base_style)
        return style

    def notify_style_update(self) -> None:
        self._row_styles.clear()
        self._rendered.clear()
        self._unstyled.clear()
        super().notify_style_update()

    def action_scroll_top(self) -> None:
        self.move_cursor(row=0)

    def action_scroll_bottom(self) -> None:
        self.move_cursor(row=max(self.row_count - 1, 0))

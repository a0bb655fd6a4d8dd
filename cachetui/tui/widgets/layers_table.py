"""The layers of one cache: digest, compression, sizes, created, role, and sharing."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from cachetui.buildkit.analysis import LayerInfo, LayerRole
from cachetui.tui.keymap import identify
from cachetui.tui.model import compact_age, short_digest, size
from cachetui.tui.widgets.column_fit import Layout, fit_columns, natural_widths

FIRST_ROWS = 60
"""Rows added before the first paint (more than a screenful)."""
BATCH_ROWS = 200
"""Rows added per refresh after that."""
ROLE_STYLE = {LayerRole.FINAL: "green", LayerRole.INTERMEDIATE: "dark_orange"}
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("Digest", "digest", False),
    ("Comp", "comp", False),
    ("Size", "size", True),
    ("Uncompressed", "usize", True),
    ("Created", "created", False),
    ("Role", "role", False),
    ("Shared", "shared", True),
    ("Steps", "steps", False),
)
"""Title, key and whether the column is right-aligned, in display order."""
USIZE = 3
KEEP_ORDER = (0, 2, 5, 7, 3, 4, 6, 1)
"""Most useful first (digest, size, role, steps, uncompressed, created, shared, compression):
on a narrow terminal the columns at the end hide first."""
FLEXIBLE = {7: 6}
"""Steps may be cut (with an ellipsis) down to this width; the others always show whole."""


class LayersTable(DataTable[Text | str]):
    """Row keys are blob digests; uncompressed sizes arrive later through :meth:`set_uncompressed`.

    Columns size to their content and the terminal (:mod:`column_fit`): widths are measured from
    the layers themselves, not by the table, and a resize that changes which columns fit rebuilds
    them.
    """

    BINDINGS: ClassVar[list[BindingType]] = identify("layers", [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ])

    def __init__(self, layers: tuple[LayerInfo, ...], users: Counter[str], now: datetime,
                 *, measuring: bool = True, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.cache_layers = layers
        self.users = users
        self.now = now
        self.measuring = measuring
        """Whether uncompressed sizes are on their way (``…``) or only on request (``-``)."""
        self._added = 0
        self._usize: dict[str, Text] = {}
        """Uncompressed-size cells that arrived (kept: a re-layout adds every row again)."""
        self._natural = natural_widths([title for title, _, _ in COLUMNS],
                                       (self._cells(layer) for layer in layers))
        self.layout_now: Layout = ()

    @property
    def complete(self) -> bool:
        """Every layer has its row (the table fills in batches after the first screenful)."""
        return self._added >= len(self.cache_layers)

    def on_mount(self) -> None:
        # Rows in batches: the table measures every cell it is given, which for 2,000 layers
        # took half a second before the cache screen could paint.
        self._apply_layout(self._layout())
        self._add_batch(FIRST_ROWS)

    def on_resize(self) -> None:
        layout = self._layout()
        if layout == self.layout_now:
            return
        keep = self.cursor_row
        self.clear(columns=True)
        self._apply_layout(layout)
        added, self._added = self._added, 0
        self._add_batch(max(added, FIRST_ROWS), follow=False)
        if 0 <= keep < self.row_count:
            self.move_cursor(row=keep, animate=False)

    def _layout(self) -> Layout:
        scrollbar = self.styles.scrollbar_size_vertical if len(
            self.cache_layers) >= self.size.height else 0
        available = self.size.width - scrollbar
        return fit_columns(self._natural, KEEP_ORDER, FLEXIBLE,
                           available if available > 0 else 80)

    def _apply_layout(self, layout: Layout) -> None:
        self.layout_now = layout
        for index, width in layout:
            title, key, right = COLUMNS[index]
            self.add_column(Text(title, justify="right") if right else title, key=key,
                            width=width)

    def shown_columns(self) -> list[str]:
        """Titles of the columns on screen, in order."""
        return [COLUMNS[index][0] for index, _ in self.layout_now]

    def _add_batch(self, count: int, *, follow: bool = True) -> None:
        for layer in self.cache_layers[self._added:self._added + count]:
            cells = self._cells(layer)
            self.add_row(*(_cut(cells[index], width) for index, width in self.layout_now),
                         key=layer.digest)
        self._added = min(self._added + count, len(self.cache_layers))
        if not self.complete and follow:
            self.call_after_refresh(self._add_batch, BATCH_ROWS)

    def _cells(self, layer: LayerInfo) -> list[Text | str]:
        others = max(self.users.get(layer.digest, 1) - 1, 0)
        usize = self._usize.get(layer.digest) or Text(
            "…" if self.measuring else "-", justify="right", style="dim")
        return [
            short_digest(layer.digest),
            "none" if layer.compression == "uncompressed" else layer.compression,
            Text(size(layer.size), justify="right"),
            usize,
            compact_age(layer.created_at, self.now),
            Text(str(layer.role), style=ROLE_STYLE[layer.role]),
            Text(str(others) if others else "-", justify="right"),
            ",".join(f"#{r}" for r in layer.records[:4]) + ("…" if len(layer.records) > 4 else ""),
        ]

    def _usize_shown(self) -> bool:
        return any(index == USIZE for index, _ in self.layout_now)

    def set_uncompressed(self, digest: str, value: int | None, error: str | None = None) -> None:
        cell = Text(size(value), justify="right") if value is not None else Text(
            "error" if error else "-", justify="right", style="red" if error else "dim")
        self._usize[digest] = cell
        if digest in self.rows and self._usize_shown():
            self.update_cell(digest, "usize", cell)

    def set_measuring(self) -> None:
        """Uncompressed sizes were requested: rows still without one show ``…``."""
        self.measuring = True
        if not self._usize_shown():
            return
        for digest in self.rows:
            cell = self.get_cell(digest, "usize")
            if isinstance(cell, Text) and cell.plain == "-" and str(cell.style) == "dim":
                self.update_cell(digest, "usize", Text("…", justify="right", style="dim"))

    def current_digest(self) -> str | None:
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return None if key.value is None else str(key.value)

    def action_scroll_home(self) -> None:
        self.move_cursor(row=0)

    def action_scroll_end(self) -> None:
        self.move_cursor(row=max(self.row_count - 1, 0))


def _cut(cell: Text | str, width: int) -> Text | str:
    """A cell cut to ``width`` with an ellipsis (only Steps is ever cut: it keeps its start)."""
    length = cell.cell_len if isinstance(cell, Text) else len(cell)
    if length <= width:
        return cell
    plain = cell.plain if isinstance(cell, Text) else cell
    return plain[:width - 1] + "…"

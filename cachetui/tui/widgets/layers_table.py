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

FIRST_ROWS = 60
"""Rows added before the first paint (more than a screenful)."""
BATCH_ROWS = 200
"""Rows added per refresh after that."""
ROLE_STYLE = {LayerRole.FINAL: "green", LayerRole.INTERMEDIATE: "dark_orange"}


class LayersTable(DataTable[Text | str]):
    """Row keys are blob digests; uncompressed sizes arrive later through :meth:`set_uncompressed`."""

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
        """Uncompressed-size cells that arrived before their row was added."""

    @property
    def complete(self) -> bool:
        """Every layer has its row (the table fills in batches after the first screenful)."""
        return self._added >= len(self.cache_layers)

    def on_mount(self) -> None:
        # Fixed widths, and rows in batches: the table measures every cell it is given, which
        # for 2,000 layers took half a second before the cache screen could paint.
        self.add_column("Digest", key="digest", width=12)
        self.add_column("Comp", key="comp", width=4)
        self.add_column(Text("Size", justify="right"), key="size", width=10)
        self.add_column(Text("Uncompressed", justify="right"), key="usize", width=12)
        self.add_column("Created", key="created", width=8)
        self.add_column("Role", key="role", width=12)
        self.add_column(Text("Shared", justify="right"), key="shared", width=6)
        self.add_column("Steps", key="steps", width=24)
        self._add_batch(FIRST_ROWS)

    def _add_batch(self, count: int) -> None:
        for layer in self.cache_layers[self._added:self._added + count]:
            self.add_row(*self._cells(layer), key=layer.digest)
        self._added = min(self._added + count, len(self.cache_layers))
        if not self.complete:
            self.call_after_refresh(self._add_batch, BATCH_ROWS)

    def _cells(self, layer: LayerInfo) -> list[Text | str]:
        others = max(self.users.get(layer.digest, 1) - 1, 0)
        usize = self._usize.pop(layer.digest, None) or Text(
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

    def set_uncompressed(self, digest: str, value: int | None, error: str | None = None) -> None:
        cell = Text(size(value), justify="right") if value is not None else Text(
            "error" if error else "-", justify="right", style="red" if error else "dim")
        if digest in self.rows:
            self.update_cell(digest, "usize", cell)
        else:
            self._usize[digest] = cell

    def set_measuring(self) -> None:
        """Uncompressed sizes were requested: rows still without one show ``…``."""
        self.measuring = True
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

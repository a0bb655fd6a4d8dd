"""The layers of one cache: digest, compression, sizes, created, role, and sharing."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from cachetui.buildkit.analysis import LayerInfo, LayerRole
from cachetui.tui.model import compact_age, short_digest, size

ROLE_STYLE = {LayerRole.FINAL: "green", LayerRole.INTERMEDIATE: "dark_orange"}


class LayersTable(DataTable[Text | str]):
    """Row keys are blob digests; uncompressed sizes arrive later through :meth:`set_uncompressed`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ]

    def __init__(self, layers: tuple[LayerInfo, ...], users: Counter[str], now: datetime,
                 **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.cache_layers = layers
        self.users = users
        self.now = now

    def on_mount(self) -> None:
        # Fixed widths: measuring 2,000 rows of cells would cost more than drawing them.
        self.add_column("Digest", key="digest", width=12)
        self.add_column("Comp", key="comp", width=4)
        self.add_column(Text("Size", justify="right"), key="size", width=10)
        self.add_column(Text("Uncompressed", justify="right"), key="usize", width=12)
        self.add_column("Created", key="created", width=8)
        self.add_column("Role", key="role", width=12)
        self.add_column(Text("Shared", justify="right"), key="shared", width=6)
        self.add_column("Steps", key="steps", width=24)
        rows: list[list[Text | str]] = []
        keys = []
        for layer in self.cache_layers:
            others = max(self.users.get(layer.digest, 1) - 1, 0)
            rows.append([
                short_digest(layer.digest),
                "none" if layer.compression == "uncompressed" else layer.compression,
                Text(size(layer.size), justify="right"),
                Text("…", justify="right", style="dim"),
                compact_age(layer.created_at, self.now),
                Text(str(layer.role), style=ROLE_STYLE[layer.role]),
                Text(str(others) if others else "-", justify="right"),
                ",".join(f"#{r}" for r in layer.records[:4]) + ("…" if len(layer.records) > 4 else ""),
            ])
            keys.append(layer.digest)
        for key, row in zip(keys, rows, strict=True):
            self.add_row(*row, key=key)

    def set_uncompressed(self, digest: str, value: int | None, error: str | None = None) -> None:
        if digest not in self.rows:
            return
        cell = Text(size(value), justify="right") if value is not None else Text(
            "error" if error else "-", justify="right", style="red" if error else "dim")
        self.update_cell(digest, "usize", cell)

    def current_digest(self) -> str | None:
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return None if key.value is None else str(key.value)

    def action_scroll_home(self) -> None:
        self.move_cursor(row=0)

    def action_scroll_end(self) -> None:
        self.move_cursor(row=max(self.row_count - 1, 0))

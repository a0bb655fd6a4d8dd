"""Compare two caches: shared and unique layers and bytes, records in common, same-cache check."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from cachetui.buildkit.diff import CacheDiff, diff_caches
from cachetui.present.safe_text import safe
from cachetui.tui.keymap import identify
from cachetui.tui.model import Row, short_digest, size
from cachetui.tui.screens.base import ExtensibleScreen
from cachetui.tui.widgets.fitting_footer import FittingFooter


class CompareScreen(ExtensibleScreen):
    SCREEN_NAME = "compare"
    BINDINGS: ClassVar[list[BindingType]] = identify("compare", [
        Binding("escape", "back", "Back"),
        Binding("y", "copy_digest", "Copy digest"),
        Binding("j", "down", "Down", show=False),
        Binding("k", "up", "Up", show=False),
    ])

    def __init__(self, left: Row, right: Row) -> None:
        super().__init__()
        self.left = left
        self.right = right
        self.diff: CacheDiff | None = None

    def compose(self) -> ComposeResult:
        crumbs = Text("cachetui", style="bold")
        crumbs.append(" › compare › ", style="dim")
        crumbs.append(f"{self.left.entry.tag} = {self.right.entry.tag}")
        yield Static(crumbs, id="breadcrumbs")
        with Vertical(id="compare-body"):
            yield Static(Text("comparing…", style="dim"), id="compare-summary")
            yield DataTable(id="compare-layers", cursor_type="row", zebra_stripes=True)
        yield FittingFooter()

    def on_mount(self) -> None:
        self.compute()

    @work(group="compare", exclusive=True, exit_on_error=False)
    async def compute(self) -> None:
        left, right = self.left.entry.analysis, self.right.entry.analysis
        assert left is not None and right is not None
        self.diff = await asyncio.to_thread(diff_caches, left, right)
        self.show(self.diff)

    def show(self, diff: CacheDiff) -> None:
        self.query_one("#compare-summary", Static).update(self.summary(diff))
        table = self.query_one("#compare-layers", DataTable)
        table.add_column("Layer")
        table.add_column(Text("Size", justify="right"))
        table.add_column("In")
        left, right = self.left.entry.analysis, self.right.entry.analysis
        assert left is not None and right is not None
        sizes: dict[str, int] = {layer.digest: layer.size for layer in (*left.layers, *right.layers)}
        for side, digests, style in (("both", diff.shared_layers, "green"),
                                     ("left only", diff.only_left, "cyan"),
                                     ("right only", diff.only_right, "magenta")):
            for digest in digests:
                table.add_row(short_digest(digest, 19), Text(size(sizes.get(digest)), justify="right"),
                              Text(side, style=style), key=digest)
        table.focus()

    def summary(self, diff: CacheDiff) -> Table:
        table = Table(box=None, padding=(0, 2), expand=False)
        # The row names keep their width: with two long refs Rich shrank this column to nothing
        # at 80 columns, leaving figures with no names. The ref columns are the ones that give
        # (Rich narrows wrappable columns first); their headers stay one line, cut with "…".
        table.add_column("", no_wrap=True, min_width=len("In common"))
        for side, row, style in (("left", self.left, "cyan"), ("right", self.right, "magenta")):
            table.add_column(Text(f"{side}: {safe(row.entry.ref)}", style=style, no_wrap=True,
                                  overflow="ellipsis"))
        left, right = self.left.entry.analysis, self.right.entry.analysis
        assert left is not None and right is not None
        table.add_row("Layers", f"{left.layer_count} ({size(left.size_bytes)})",
                      f"{right.layer_count} ({size(right.size_bytes)})")
        shared = f"{len(diff.shared_layers)} ({size(diff.shared_bytes)})"
        table.add_row("Shared", shared, shared)
        table.add_row("Unique", f"{len(diff.only_left)} ({size(diff.only_left_bytes)})",
                      f"{len(diff.only_right)} ({size(diff.only_right_bytes)})")
        table.add_row("Records", str(diff.records_left), str(diff.records_right))
        table.add_row("In common", str(diff.records_in_common), str(diff.records_in_common))
        if diff.same_cache and (diff.only_left or diff.only_right):
            verdict = Text("Same cache in a different encoding: equal records and layer contents.",
                           style="bold green")
        elif diff.same_cache:
            verdict = Text("Identical caches.", style="bold green")
        else:
            verdict = Text("Different caches.", style="bold yellow")
        grid = Table.grid()
        grid.add_row(table)
        grid.add_row(Text(""))
        grid.add_row(verdict)
        return grid

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_down(self) -> None:
        self.query_one("#compare-layers", DataTable).action_cursor_down()

    def action_up(self) -> None:
        self.query_one("#compare-layers", DataTable).action_cursor_up()

    def action_copy_digest(self) -> None:
        table = self.query_one("#compare-layers", DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if key:
                self.app.copy_to_clipboard(key)
                self.notify(f"Copied {short_digest(key, 19)}… (whole digest)", timeout=2)

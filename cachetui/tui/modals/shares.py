"""Which caches share this layer: the caches of every open source that hold the same blob, and,
in a second list, those holding the same content in another encoding (same diffID). ``enter`` on
either list opens that cache (the dialog closes; ``esc`` on the cache screen comes back)."""

from __future__ import annotations

import asyncio
from typing import ClassVar, Protocol, runtime_checkable

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from cachetui.ops.shares import Holder, Shares, shares
from cachetui.present.safe_text import safe
from cachetui.tui.keymap import identify
from cachetui.tui.model import Row, compression_label, short_digest, size

FIRST_ROWS = 40
"""Rows added before the first paint (more than the list shows)."""
BATCH_ROWS = 200


@runtime_checkable
class CacheOpener(Protocol):
    """The screen that holds every listed cache and opens one (the main screen)."""

    rows: dict[str, Row]

    @property
    def labels_by_source(self) -> dict[str, str]: ...

    def open_cache(self, row: Row) -> None: ...


def opener_of(app: App[object] | App[None]) -> CacheOpener | None:
    for screen in reversed(app.screen_stack):
        if isinstance(screen, CacheOpener):
            return screen
    return None


class SharesModal(ModalScreen[Row | None]):
    """Opened with a blob digest; dismisses with the row to open, or None."""

    DEFAULT_CSS = """
    SharesModal { align: center middle; }
    #shares-dialog {
        width: 96; max-width: 100%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 1 2;
    }
    #shares-dialog DataTable { height: auto; max-height: 10; }
    #shares-dialog .shares-title { margin-top: 1; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = identify("shares", [
        Binding("escape", "dismiss_none", "Close"),
    ])

    def __init__(self, digest: str, rows: list[Row], labels: dict[str, str],
                 current: str | None = None) -> None:
        super().__init__()
        self.digest = digest
        self.rows = [row for row in rows if row.entry.analysis is not None]
        self.labels = labels
        self.current = current
        """The row key of the cache the dialog was opened from (marked in the lists)."""
        self.found: Shares | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="shares-dialog"):
            yield Label(f"Caches that share layer {short_digest(self.digest)}",
                        classes="dialog-title")
            yield Static(Text("searching…", style="dim"), id="shares-summary")
            yield Static("", id="shares-blob-title", classes="shares-title")
            yield DataTable(id="shares-blob", cursor_type="row", zebra_stripes=True)
            yield Static("", id="shares-content-title", classes="shares-title")
            yield DataTable(id="shares-content", cursor_type="row", zebra_stripes=True)
            yield Static(Text("enter opens a cache · tab next list · esc closes", style="dim"),
                         id="shares-keys")

    def on_mount(self) -> None:
        for table_id in ("#shares-blob", "#shares-content"):
            table = self.query_one(table_id, DataTable)
            table.add_column("Cache", key="cache")
            table.add_column("Comp", key="comp")
            table.add_column(Text("Size", justify="right"), key="size")
            table.add_column("Role", key="role")
        self.search()

    @work(group="shares", exclusive=True, exit_on_error=False)
    async def search(self) -> None:
        """In a thread: thousands of caches are thousands of layer lists to walk."""
        entries = [row.entry for row in self.rows]
        self.found = await asyncio.to_thread(shares, entries, self.digest)
        self.show(self.found)

    def show(self, found: Shares) -> None:
        by_entry = {id(row.entry): row for row in self.rows}
        summary = Text(f"blob {short_digest(found.digest, 19)}")
        if found.diff_id:
            summary.append(f" · content (diffID) {short_digest(found.diff_id, 19)}", style="dim")
        self.query_one("#shares-summary", Static).update(summary)
        self.query_one("#shares-blob-title", Static).update(
            f"Same blob: {len(found.same_blob)} cache{'s' if len(found.same_blob) != 1 else ''}")
        self.query_one("#shares-content-title", Static).update(
            f"Same content, another encoding: {len(found.same_content)} cache"
            f"{'s' if len(found.same_content) != 1 else ''}"
            + ("" if found.diff_id else " (this layer has no diffID)"))
        for table_id, holders in (("#shares-blob", found.same_blob),
                                  ("#shares-content", found.same_content)):
            table = self.query_one(table_id, DataTable)
            table.clear()
            self.add_rows(table, holders, by_entry, FIRST_ROWS)
            table.display = bool(holders)
        first = "#shares-blob" if found.same_blob else "#shares-content"
        self.query_one(first, DataTable).focus()

    def add_rows(self, table: DataTable[Text], holders: tuple[Holder, ...],
                 by_entry: dict[int, Row], count: int) -> None:
        """Rows in batches after the first screenful: a layer every cache of a 3,000-cache
        registry holds must not stall the dialog while thousands of rows are measured."""
        start = table.row_count
        for holder in holders[start:start + count]:
            row = by_entry.get(id(holder.entry))
            table.add_row(*self.cells(holder, row), key=row.key if row else None)
        if table.row_count < len(holders):
            self.call_after_refresh(self.add_rows, table, holders, by_entry, BATCH_ROWS)

    def cells(self, holder: Holder, row: Row | None) -> list[Text]:
        entry = holder.entry
        where = self.labels.get(entry.source, entry.source)
        name = Text(safe(f"{where}:{entry.tag}"))
        if row is not None and row.key == self.current:
            name.append(" (this cache)", style="dim")
        layer = holder.layer
        return [name, Text(compression_label((layer.compression,))),
                Text(size(layer.size), justify="right"), Text(str(layer.role))]

    @on(DataTable.RowSelected)
    def selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        row = next((r for r in self.rows if r.key == key), None)
        if row is not None:
            # The cache the list was opened from is open already: closing goes back to it.
            self.dismiss(None if row.key == self.current else row)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


def show_shares(app: App[None], digest: str, current: Row | None) -> bool:
    """Open the dialog for ``digest`` over every cache the main screen lists; ``enter`` in it
    opens the chosen cache. False when there is no such screen (nothing to search)."""
    opener = opener_of(app)
    if opener is None:
        return False

    def chosen(row: Row | None) -> None:
        if row is not None and opener is not None:
            opener.open_cache(row)

    app.push_screen(SharesModal(digest, list(opener.rows.values()), opener.labels_by_source,
                                current.key if current else None), chosen)
    return True

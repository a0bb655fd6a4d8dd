"""The source view (``i`` on the main screen): what one source holds that no cache names (the
orphaned blobs, with bytes and age) and what its caches name that is gone (dangling references),
from the same ops models as the CLI (:mod:`cachetui.tui.orphans`)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from cachetui.errors import CachetuiError
from cachetui.present.safe_text import safe
from cachetui.store.base import Store
from cachetui.tui.keymap import identify
from cachetui.tui.model import SourceState, compact_age, size
from cachetui.tui.orphans import SourceFindings, findings_of
from cachetui.tui.screens.base import ExtensibleScreen
from cachetui.tui.widgets.fitting_footer import FittingFooter


class SourceScreen(ExtensibleScreen):
    SCREEN_NAME = "source"
    BINDINGS: ClassVar[list[BindingType]] = identify("source", [
        Binding("escape", "back", "Back"),
        Binding("y", "copy_digest", "Copy name"),
    ])

    def __init__(self, state: SourceState, store: Store) -> None:
        super().__init__()
        self.state = state
        self.store = store
        self.findings: SourceFindings | None = None
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        crumbs = Text("cachetui", style="bold")
        crumbs.append(" › ", style="dim")
        crumbs.append(safe(self.state.label))
        crumbs.append(" › ", style="dim")
        crumbs.append("orphans")
        yield Static(crumbs, id="breadcrumbs")
        with VerticalScroll(id="source-scroll"):
            yield Static(Text("reading the source…", style="dim"), id="source-facts")
            yield Static(Text("Dangling references", style="bold"), classes="section-title")
            yield Static("", id="source-dangling")
            yield Static(Text("Orphaned blobs", style="bold"), classes="section-title")
        yield DataTable(id="orphans-table", cursor_type="row", zebra_stripes=True)
        yield FittingFooter()

    def on_mount(self) -> None:
        table = self.query_one("#orphans-table", DataTable)
        table.add_column("Blob", key="blob")  # cut to 12 hex digits; y copies it whole
        table.add_column(Text("Size", justify="right"), key="size")
        table.add_column("Age", key="age")
        table.add_column("Note", key="note")
        table.focus()
        self.load()

    @work(group="source-findings", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        try:
            self.findings = await findings_of(self.store)
        except CachetuiError as exc:
            self.error = str(exc)
        self.show()

    def show(self) -> None:
        facts = self.query_one("#source-facts", Static)
        if self.error is not None or self.findings is None:
            facts.update(Text(f"could not read: {safe(self.error or 'unknown error')}",
                              style="red"))
            return
        found = self.findings
        text = Text(safe(found.summary) + "\n")
        if found.visible:
            style = "yellow" if found.orphans else "green"
            text.append(f"{len(found.orphans)} orphaned blob(s), {size(found.orphaned_bytes)}",
                        style=style)
        facts.update(text)
        dangling = Text()
        if not found.visible:
            dangling.append("-", style="dim")
        elif found.dangling:
            dangling.append(f"{len(found.dangling)} blob(s) named by caches are gone: a build "
                            "that needs them fails with 404\n", style="bold red")
            for line in found.dangling:
                dangling.append(f"  {safe(line)}\n", style="red")
        else:
            dangling.append("none: every blob a cache names is stored", style="green")
        self.query_one("#source-dangling", Static).update(dangling)
        table = self.query_one("#orphans-table", DataTable)
        now = self.cachetui.now()
        for orphan in found.orphans:
            table.add_row(safe(orphan.short), Text(size(orphan.size), justify="right"),
                          compact_age(orphan.modified, now), orphan.note)

    def action_copy_digest(self) -> None:
        """Copy the whole key or digest of the orphan under the cursor."""
        table = self.query_one("#orphans-table", DataTable)
        if self.findings is None or not 0 <= table.cursor_row < len(self.findings.orphans):
            self.notify("no orphaned blob here to copy", severity="warning", timeout=3)
            return
        name = self.findings.orphans[table.cursor_row].name
        self.app.copy_to_clipboard(name)
        self.notify(f"Copied {safe(name)}", timeout=2, markup=False)

    def action_back(self) -> None:
        self.app.pop_screen()

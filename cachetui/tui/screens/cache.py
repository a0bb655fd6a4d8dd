"""One cache: summary with the min-versus-max bar, layers, records, raw manifest and config."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from functools import partial
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from cachetui.buildkit.times import format_time
from cachetui.errors import CachetuiError
from cachetui.ops.dangling import dangling_references
from cachetui.ops.objscan import MissingBlob
from cachetui.ops.uncompressed import measure
from cachetui.present.forms import format_detail, format_name
from cachetui.present.safe_text import safe
from cachetui.store.base import Store
from cachetui.tui.keymap import identify
from cachetui.tui.messages import LayerSizesMeasured
from cachetui.tui.model import Row, age, percent, short_digest, size
from cachetui.tui.screens.base import ExtensibleScreen, PaletteCommand
from cachetui.tui.widgets.fitting_footer import FittingFooter
from cachetui.tui.widgets.layers_table import LayersTable
from cachetui.tui.widgets.minmax_bar import MinMaxBar
from cachetui.tui.widgets.raw_view import RawView, pretty_lines
from cachetui.tui.widgets.records_tree import RecordsTree

TABS = ("summary", "layers", "records", "manifest", "config")
MEASURE_CONCURRENCY = 2
MEASURE_BATCH_SECONDS = 0.25
AUTO_MEASURE_LAYERS = 200


class CacheScreen(ExtensibleScreen):
    SCREEN_NAME = "cache"
    BINDINGS: ClassVar[list[BindingType]] = identify("cache", [
        Binding("escape", "back", "Back"),
        Binding("1", "tab('summary')", "Summary", show=False),
        Binding("2", "tab('layers')", "Layers", show=False),
        Binding("3", "tab('records')", "Records", show=False),
        Binding("4", "tab('manifest')", "Manifest", show=False),
        Binding("5", "tab('config')", "Config", show=False),
        Binding("right_square_bracket", "next_tab(1)", "Next tab", key_display="]"),
        Binding("left_square_bracket", "next_tab(-1)", "Prev tab", key_display="["),
        Binding("y", "copy_digest", "Copy digest"),
        Binding("u", "measure", "Measure uncompressed"),
        Binding("s", "shares", "Shared by", show=False),
    ])

    def __init__(self, row: Row, store: Store | None, users: Counter[str], source_label: str) -> None:
        super().__init__()
        assert row.entry.analysis is not None
        self.row = row
        self.analysis = row.entry.analysis
        self.store = store
        self.users = users
        self.source_label = source_label
        self._raw_loaded: set[str] = set()
        self.measuring = False
        self.dangling: tuple[MissingBlob, ...] | None = None
        """Blobs the cache names that the store no longer has (``None`` until checked)."""
        self.dangling_error: str | None = None

    def sources_read_only(self) -> bool:
        for screen in self.app.screen_stack:
            source = getattr(screen, "sources", {}).get(self.row.source_id)
            if source is not None:
                return bool(source.read_only)
        return False

    def compose(self) -> ComposeResult:
        yield Static(self.crumbs("summary"), id="breadcrumbs")
        with TabbedContent(id="cache-tabs"):
            with TabPane("Summary", id="summary"), VerticalScroll(id="summary-scroll"):
                yield Static(self.summary_table(), id="summary-facts")
                yield Static(Text("Min versus max", style="bold"), classes="section-title")
                yield MinMaxBar(self.analysis.minmax, id="minmax")
                yield Static(Text("Dangling references", style="bold"),
                             classes="section-title")
                yield Static(self.dangling_text(), id="dangling")
                yield Static(self.notes(), id="summary-notes")
            with TabPane("Layers", id="layers"):
                yield LayersTable(self.analysis.layers, self.users, self.cachetui.now(),
                                  measuring=self.auto_measure, id="layers-table")
            with TabPane("Records", id="records"):
                yield RecordsTree(self.analysis, id="records-tree")
            with TabPane("Manifest", id="manifest"):
                yield RawView(id="raw-manifest")
            with TabPane("Config", id="config"):
                yield RawView(id="raw-config")
        yield FittingFooter()

    @property
    def auto_measure(self) -> bool:
        """Measure uncompressed sizes on open: local directories with a modest layer count only
        (each layer is read and decompressed once; thousands of them wait for ``u``)."""
        return (self.store is not None and self.store.kind == "directory"
                and self.analysis.layer_count <= AUTO_MEASURE_LAYERS)

    def on_mount(self) -> None:
        if self.auto_measure:
            self.call_after_refresh(self.measure, quiet=True)
        if self.store is not None and self.analysis.document.config is not None:
            self.check_dangling()
        known = self.cachetui.uncompressed
        table = self.query_one(LayersTable)
        for layer in self.analysis.layers:
            value = known.get(layer.digest)
            if value is not None:
                table.set_uncompressed(layer.digest, value)

    def crumbs(self, tab: str) -> Text:
        text = Text("cachetui", style="bold")
        for part in (self.source_label, self.row.entry.tag, tab):
            text.append(" › ", style="dim")
            text.append(safe(part))
        return text

    def summary_table(self) -> Table:
        a = self.analysis
        doc = a.document
        now = self.cachetui.now()
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        rows = [
            ("Reference", safe(self.row.entry.ref)),
            ("Form", f"{format_name(self.row.entry.kind, doc)} "
                     f"({safe(format_detail(self.row.entry.kind, doc))})"),
            ("Manifest", doc.top.digest),
            ("Cache config", doc.config_descriptor.digest if doc.config_descriptor else "-"),
            ("Compression", ", ".join(a.compression) or "-"),
            ("Layers", f"{a.layer_count} unique blobs, {size(a.size_bytes)}"),
            ("Records", f"{a.record_count} ({a.records_with_results} with results, "
                        f"{len(a.minmax.final_records)} final)"),
            ("Min estimate", f"{size(a.minmax.min_bytes)} in {len(a.minmax.min_digests)} layers "
                             f"({percent(a.minmax.min_bytes, a.size_bytes)})"),
            ("Max over min", f"{size(a.minmax.delta_bytes)} in {len(a.intermediate_layers)} "
                             f"intermediate layers"),
            ("Created", f"{format_time(a.created_oldest) or '-'} … "
                        f"{format_time(a.created_newest) or '-'} ({age(a.created_newest, now)})"),
        ]
        for name, value in rows:
            table.add_row(name, Text(value))  # plain text: names are no markup
        return table

    def dangling_text(self) -> Text:
        """Whether every blob the cache names is still stored, and if not, what will miss."""
        a = self.analysis
        if self.store is None or a.document.config is None:
            return Text("not checked (no store or no cache config)", style="dim")
        if self.dangling_error is not None:
            return Text(f"could not check: {safe(self.dangling_error)}", style="red")
        if self.dangling is None:
            return Text(f"checking that the {a.layer_count} blobs are stored…", style="dim")
        if not self.dangling:
            return Text(f"none: all {a.layer_count} blobs this cache names are stored",
                        style="green")
        records = sorted({r for m in self.dangling for r in m.records})
        text = Text(f"{len(self.dangling)} blob(s) this cache names are gone: a build that "
                    f"needs them fails with 404; {len(records)} of {a.record_count} records "
                    "will miss\n", style="bold red")
        for missing in self.dangling:
            layers = ", ".join(f"#{i}" for i in missing.layers)
            hits = ", ".join(f"#{r}" for r in missing.records[:12]) + (
                "…" if len(missing.records) > 12 else "")
            text.append(f"  {safe(missing.key)}\n", style="red")
            text.append(f"    layer {layers} · records {hits or '-'}\n")
        return text

    @work(group="dangling", exclusive=True, exit_on_error=False)
    async def check_dangling(self) -> None:
        store = self.store
        assert store is not None
        try:
            self.dangling = await dangling_references(store, self.analysis.document)
        except CachetuiError as exc:
            self.dangling_error = str(exc)
        self.query_one("#dangling", Static).update(self.dangling_text())

    def notes(self) -> Text:
        a = self.analysis
        text = Text()
        if not a.document.is_cache:
            text.append("This tag is an image without cache records.\n", style="yellow")
        if a.minmax.missing_blobs:
            text.append(f"{len(a.minmax.missing_blobs)} blob(s) named by results are missing "
                        "from the manifest; BuildKit ignores those results.\n", style="red")
        text.append("Keys: 1-5 or [ ] switch views · y copies the digest of the current row · "
                    "u measures uncompressed sizes · s (or enter) on a layer lists the caches "
                    "that share it", style="dim")
        return text

    # ---- tabs and raw views -----------------------------------------------------------------

    @on(TabbedContent.TabActivated)
    def tab_activated(self, event: TabbedContent.TabActivated) -> None:
        tab = event.pane.id or "summary"
        self.query_one("#breadcrumbs", Static).update(self.crumbs(tab))
        if tab in ("manifest", "config") and tab not in self._raw_loaded:
            self._raw_loaded.add(tab)
            self.load_raw(tab)
        focus = {"layers": "#layers-table", "records": "#records-tree",
                 "manifest": "#raw-manifest", "config": "#raw-config"}.get(tab)
        if focus:
            self.query_one(focus).focus()

    @work(group="raw", exit_on_error=False)
    async def load_raw(self, tab: str) -> None:
        doc = self.analysis.document
        raw = doc.top.raw if tab == "manifest" else doc.config_raw
        lines = await asyncio.to_thread(pretty_lines, raw)
        self.query_one(f"#raw-{tab}", RawView).set_lines(lines)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_next_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        index = TABS.index(tabs.active) if tabs.active in TABS else 0
        tabs.active = TABS[(index + step) % len(TABS)]

    def action_back(self) -> None:
        self.app.pop_screen()

    def current_digest(self) -> str | None:
        tab = self.query_one(TabbedContent).active
        doc = self.analysis.document
        if tab == "layers":
            return self.query_one(LayersTable).current_digest()
        if tab == "records":
            return self.query_one(RecordsTree).current_digest()
        if tab == "config" and doc.config_descriptor is not None:
            return doc.config_descriptor.digest
        return doc.top.digest

    def action_copy_digest(self) -> None:
        digest = self.current_digest()
        if digest:
            self.app.copy_to_clipboard(digest)
            self.notify(f"Copied {short_digest(digest, 19)}… (whole digest)", timeout=2)

    def action_shares(self) -> None:
        """Which caches of every open source hold the layer under the cursor (same blob, or the
        same content in another encoding); enter in that list opens one."""
        from cachetui.tui.modals.shares import show_shares

        tab = self.query_one(TabbedContent).active
        digest = self.current_digest() if tab in ("layers", "records") else None
        if digest is None or digest not in {layer.digest for layer in self.analysis.layers}:
            self.notify("Move to a layer (2: layers) to see which caches share it",
                        severity="warning", timeout=3)
            return
        show_shares(self.app, digest, self.row)

    @on(DataTable.RowSelected, "#layers-table")
    def layer_selected(self) -> None:
        self.action_shares()

    # ---- uncompressed sizes -----------------------------------------------------------------

    def action_measure(self) -> None:
        self.measure()

    def measure(self, *, quiet: bool = False) -> None:
        """Measure every layer's uncompressed size; ``u`` says what it did (from the summary tab
        the Uncompressed column is out of sight), the automatic start on opening stays quiet."""
        if self.store is None:
            if not quiet:
                self.notify("this cache's store cannot be read here", severity="warning")
            return
        if self.measuring:
            if not quiet:
                self.notify("measured (or measuring) already: see 2 Layers")
            return
        if not quiet:
            self.notify("measuring uncompressed sizes: see 2 Layers", timeout=3)
        self.measuring = True
        self.query_one(LayersTable).set_measuring()
        self.measure_layers()

    @work(group="measure", exclusive=True, exit_on_error=False)
    async def measure_layers(self) -> None:
        store = self.store
        assert store is not None
        known = self.cachetui.uncompressed
        limit = asyncio.Semaphore(MEASURE_CONCURRENCY)
        by_digest = {d.digest: d for d in self.analysis.document.layers}

        sizes: dict[str, int] = {}
        errors: dict[str, str] = {}
        last = time.monotonic()

        def deliver(force: bool = False) -> None:
            nonlocal sizes, errors, last
            if (sizes or errors) and (force or time.monotonic() - last > MEASURE_BATCH_SECONDS):
                self.post_message(LayerSizesMeasured(sizes, errors))
                sizes, errors, last = {}, {}, time.monotonic()

        async def one(digest: str) -> None:
            async with limit:
                try:
                    value, diff_id = await measure(store, by_digest[digest])
                except CachetuiError as exc:
                    errors[digest] = str(exc)
                else:
                    known.put(digest, value, diff_id)
                    sizes[digest] = value
                deliver()

        pending = [layer.digest for layer in self.analysis.layers if known.get(layer.digest) is None]
        await asyncio.gather(*(one(d) for d in pending))
        deliver(force=True)

    @on(LayerSizesMeasured)
    def layer_measured(self, message: LayerSizesMeasured) -> None:
        table = self.query_one(LayersTable)
        for digest, value in message.sizes.items():
            table.set_uncompressed(digest, value)
        for digest, error in message.errors.items():
            table.set_uncompressed(digest, None, error)

    def own_commands(self) -> list[PaletteCommand]:
        commands = [PaletteCommand(f"Show {tab}", f"Switch to the {tab} view",
                                   partial(self.action_tab, tab)) for tab in TABS]
        commands.append(PaletteCommand("Copy digest", "Copy the digest of the current row",
                                       self.action_copy_digest))
        commands.append(PaletteCommand("Measure uncompressed sizes",
                                       "Stream and decompress every layer once", self.action_measure))
        return commands

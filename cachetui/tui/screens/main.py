"""The main screen: sources on the left, every cache of every source on the right."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Static, Tree

from cachetui.errors import CachetuiError
from cachetui.locations import SourceRequest, Target, parse_location
from cachetui.oci.digest import Digest, is_digest
from cachetui.ops.inventory import (
    CacheEntry,
    EntryScanned,
    ScanFailed,
    ScanFinished,
    ScanKnown,
    ScanStarted,
    SourceStats,
)
from cachetui.present.safe_text import safe
from cachetui.store.base import StoreKind
from cachetui.tui import gcpolicy
from cachetui.tui.keymap import identify
from cachetui.tui.messages import JobEnded, ScanBatch, SourceAdded
from cachetui.tui.modals.prune_plan import freed_estimate
from cachetui.tui.model import (
    Marks,
    Row,
    SortKey,
    SortMemo,
    SourceState,
    SourceStatus,
    blob_users,
    matches,
    size,
    sort_rows,
)
from cachetui.tui.opening import preload
from cachetui.tui.scanning import group_id, open_request, scan_all
from cachetui.tui.screens.base import ExtensibleScreen, PaletteCommand
from cachetui.tui.widgets.cache_table import COLUMNS, CacheTable
from cachetui.tui.widgets.fitting_footer import FittingFooter
from cachetui.tui.widgets.jobs_panel import JobsPanel
from cachetui.tui.widgets.sources_tree import SourcesTree

RENDER_DELAY = 0.2
"""While sources stream in, the table is redrawn at most this often."""
MANY_ROWS = 1000
RENDER_DELAY_MANY = 0.5
"""From :data:`MANY_ROWS` rows on, redraws while streaming come at most this often: each one
re-sorts and repaints the table, and at thousands of rows they took most of the UI's CPU while a
registry filled (``bench/bench_scale.py``)."""


class MainScreen(ExtensibleScreen):
    SCREEN_NAME = "main"
    AUTO_FOCUS = "#cache-table"
    """Not the first focusable (the sources panel): focus passing through it moved its cursor."""
    BINDINGS: ClassVar[list[BindingType]] = identify("main", [
        Binding("space", "mark", "Mark"),
        Binding("shift+down", "mark_range(1)", "Mark down", show=False),
        Binding("shift+up", "mark_range(-1)", "Mark up", show=False),
        Binding("ctrl+a", "mark_all", "Mark all shown", show=False),
        Binding("ctrl+backslash", "clear_marks", "Clear marks", key_display="^\\",
                show=False),
        Binding("equals_sign", "compare", "Compare", key_display="="),
        Binding("w", "space", "Usage"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("S", "sort('size')", "Sort size", key_display="S", show=False),
        Binding("A", "sort('age')", "Sort age", key_display="A", show=False),
        Binding("N", "sort('name')", "Sort name", key_display="N", show=False),
        Binding("ctrl+r", "refresh", "Refresh"),
        Binding("o", "open_source", "Open source", show=False),
        Binding("i", "source_view", "Orphans, dangling refs", show=False),
        Binding("y", "copy_cache_from", "Copy --cache-from", show=False),
        Binding("tab", "app.focus_next", "Next pane", show=False),
    ])

    def __init__(self, requests: list[SourceRequest]) -> None:
        super().__init__()
        self.requests = requests
        self.sources: dict[str, SourceState] = {}
        self.targets: dict[str, Target] = {}
        self.rows: dict[str, Row] = {}
        self.marks = Marks()
        self.sort_key = SortKey.NAME
        self.sort_reverse = False
        self.query_text = ""
        self.source_filter: set[str] | None = None
        self._render_pending = False
        self._sort_memo: SortMemo = {}
        self._rows_version = 0
        self._freed: tuple[tuple[str, ...], int, int] | None = None
        """(marked keys, rows version, bytes) of the last freed-bytes estimate."""
        self._binding_state: tuple[bool, bool, int, bool] | None = None
        self._loaded_unfrozen = 0
        """Caches loaded since the last freeze (see :mod:`cachetui.tui.gcpolicy`)."""
        self.opened: dict[str, SourceRequest] = {}
        """Every request loaded, by the group node it opens as (:func:`group_id`)."""
        self._preloaded: asyncio.Future[None] | None = None
        """The start-up import of the sources' store modules (:mod:`cachetui.tui.opening`)."""

    def compose(self) -> ComposeResult:
        yield Static("cachetui", id="breadcrumbs")
        with Horizontal(id="main-panes"):
            yield SourcesTree(id="sources")
            with Vertical(id="caches"):
                yield Input(placeholder="filter: text, or !text to exclude (esc clears)",
                            id="filter")
                yield CacheTable(id="cache-table")
        yield JobsPanel(id="jobs")
        yield Static("", id="status")
        yield FittingFooter()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one(CacheTable).focus()
        self.render_table()
        locations = []
        for request in self.requests:
            try:
                locations.append(parse_location(request.text))
            except CachetuiError:
                pass  # its worker reports it
        self._preloaded = asyncio.ensure_future(preload(locations))
        for request in self.requests:
            self.load(request)

    # ---- loading ----------------------------------------------------------------------------

    def load(self, request: SourceRequest) -> None:
        self.run_worker(self._load(request), group="scan", name=f"open {request.text}",
                        exit_on_error=False)

    async def _load(self, request: SourceRequest) -> None:
        app = self.cachetui
        if self._preloaded is not None:
            await asyncio.shield(self._preloaded)  # all sources' modules in one import first
        self.opened[group_id(request)] = request
        targets = await open_request(request, app.workspace, self.post_message)
        for source_id, target in targets:
            self.targets[source_id] = target
        await scan_all(targets, app.memo, self.post_message)

    def expand_again(self, group: str) -> None:
        """Read a grouped source's catalog (or folder) again: stores that appeared meanwhile
        join under its node and are scanned (those already open are rescanned by the caller)."""
        request = self.opened.get(group)
        if request is not None:
            self.run_worker(self._expand_again(request), group="scan",
                            name=f"re-read {request.text}", exit_on_error=False)

    async def _expand_again(self, request: SourceRequest) -> None:
        app = self.cachetui
        try:
            targets = await open_request(request, app.workspace, self.post_message,
                                         known=set(self.targets))
        except CachetuiError as exc:
            self.notify(safe(str(exc)), title=f"cannot re-read {safe(request.text)}",
                        severity="error", markup=False)
            return
        for source_id, target in targets:
            self.targets[source_id] = target
        await scan_all(targets, app.memo, self.post_message)

    def group_of_host(self, api_host: str | None) -> str | None:
        """The open registry-host source that lists the repositories of ``api_host``."""
        for group, request in self.opened.items():
            if group not in self.sources or self.sources[group].kind != "host":
                continue
            try:
                location = parse_location(request.text)
            except CachetuiError:
                continue
            if api_host is not None and location.api_host == api_host:
                return group
        return None

    def rescan(self, source_ids: set[str]) -> None:
        targets = [(sid, self.targets[sid]) for sid in source_ids if sid in self.targets]
        for sid, _ in targets:
            for key in [k for k, r in self.rows.items() if r.source_id == sid]:
                del self.rows[key]
                self.marks.discard(key)
            self._rows_version += 1
            state = self.sources[sid]
            state.status, state.done, state.total, state.error = SourceStatus.LOADING, 0, None, None
            state.failed_tags = 0
            self.query_one(SourcesTree).upsert(state)
        self.schedule_render()
        self.run_worker(scan_all(targets, self.cachetui.memo, self.post_message), group="scan",
                        name="rescan", exit_on_error=False)

    @on(SourceAdded)
    def source_added(self, message: SourceAdded) -> None:
        state = message.state
        self.sources[state.id] = state
        self.query_one(SourcesTree).upsert(state)
        if state.status is SourceStatus.FAILED:
            self.add_failure_row(state)
        self.schedule_render()

    def add_failure_row(self, state: SourceState) -> None:
        """A source that cannot be read shows as a row with its message, where the caches would be."""
        kind: StoreKind = "registry" if state.kind in ("registry", "host") else "directory"
        entry = CacheEntry(state.id, kind, "(source)", None, state.error or "failed")
        key = f"{state.id}\t"
        self.rows[key] = Row(key, state.id, entry)
        self._rows_version += 1

    @on(ScanBatch)
    def scan_batch(self, message: ScanBatch) -> None:
        state = self.sources.get(message.source_id)
        if state is None:
            return
        self._rows_version += 1
        for event in message.events:
            if isinstance(event, ScanKnown):
                state.refreshing = True
                for entry in event.entries:
                    key = f"{message.source_id}\t{entry.tag}"
                    self.rows.setdefault(key, Row(key, message.source_id, entry))
            elif isinstance(event, ScanStarted):
                state.total, state.status = event.total, SourceStatus.LOADING
            elif isinstance(event, EntryScanned):
                entry = event.entry
                key = f"{message.source_id}\t{entry.tag}"
                self.rows[key] = Row(key, message.source_id, entry)
                state.done = event.done
                if entry.error is not None:
                    state.failed_tags += 1
            elif isinstance(event, SourceStats):
                if event.quota is not None:
                    state.quota = event.quota
                else:
                    state.unreferenced = event.unreferenced_bytes
            elif isinstance(event, ScanFailed):
                state.status, state.error = SourceStatus.FAILED, event.message
                self.add_failure_row(state)
            elif isinstance(event, ScanFinished) and state.status is not SourceStatus.FAILED:
                state.status = SourceStatus.DONE
                if state.refreshing:  # known rows the fresh listing did not confirm are gone
                    state.refreshing = False
                    for key in [k for k, row in self.rows.items()
                                if row.source_id == message.source_id and row.entry.cached]:
                        del self.rows[key]
        self.query_one(SourcesTree).upsert(state)
        self.schedule_render()
        self._loaded_unfrozen += sum(len(e.entries) if isinstance(e, ScanKnown) else 1
                                     for e in message.events
                                     if isinstance(e, ScanKnown | EntryScanned))
        if self._loaded_unfrozen >= gcpolicy.FREEZE_EVERY or (
                self._loaded_unfrozen and state.status is not SourceStatus.LOADING):
            gcpolicy.freeze_loaded()
            self._loaded_unfrozen = 0

    @on(JobEnded)
    def job_ended(self, message: JobEnded) -> None:
        if message.refresh:
            self.rescan(set(message.refresh))

    # ---- rendering --------------------------------------------------------------------------

    def schedule_render(self) -> None:
        table = self.query_one(CacheTable)
        if not table.rows_shown:
            self.render_table()
        elif not self._render_pending:
            self._render_pending = True
            delay = RENDER_DELAY if len(self.rows) < MANY_ROWS else RENDER_DELAY_MANY
            self.set_timer(delay, self.render_table)

    def flush(self) -> None:
        """Render now if a redraw is pending (tests and benchmarks call this to settle)."""
        if self._render_pending:
            self.render_table()

    def visible_rows(self) -> list[Row]:
        rows = [r for r in self.rows.values()
                if (self.source_filter is None or r.source_id in self.source_filter)
                and matches(r, self.query_text)]
        unref = {sid: s.unreferenced for sid, s in self.sources.items()}
        if len(self._sort_memo) > 2 * len(self.rows) + 1000:  # rows that are gone
            self._sort_memo = {k: v for k, v in self._sort_memo.items() if k in self.rows}
        return sort_rows(rows, self.sort_key, self.sort_reverse, unref, self._sort_memo)

    def render_table(self) -> None:
        self._render_pending = False
        table = self.query_one(CacheTable)
        table.show(
            self.visible_rows(),
            marked=set(self.marks.keys),
            unreferenced={sid: s.unreferenced for sid, s in self.sources.items()},
            labels={sid: s.label for sid, s in self.sources.items()},
            now=self.cachetui.now(),
        )
        self.update_status()

    def marked_rows(self) -> list[Row]:
        return [self.rows[k] for k in self.marks.keys if k in self.rows]

    def update_status(self) -> None:
        table = self.query_one(CacheTable)
        marked = self.marked_rows()
        parts = [f"{len(table.rows_shown)} of {len(self.rows)} caches"]
        loading = sum(1 for s in self.sources.values() if s.status is SourceStatus.LOADING)
        if loading:
            parts.append(f"loading {loading} source{'s' if loading > 1 else ''}")
        failed = sum(1 for s in self.sources.values() if s.status is SourceStatus.FAILED)
        if failed:
            parts.append(f"[red]{failed} failed[/]")
        if marked:
            parts.append(self.marked_text(marked))
        arrow = "↓" if self.sort_reverse else "↑"
        parts.append(f"sort {self.sort_key} {arrow}")
        if self.query_text:
            parts.append(f"filter [b]{self.query_text}[/]")
        hidden = self.sources_read_only()
        if self.cachetui.read_only:
            parts.append("read-only")
        elif hidden:
            parts.append("read-only source")
        current = table.current()
        if current is not None and current.entry.error:
            # The message of the row under the cursor first: it is what the user is looking at.
            message = current.entry.error.replace(current.entry.source + "/", "")
            parts.insert(0, f"[red]✗ {escape(safe(message))}[/]")
        self.query_one("#status", Static).update(" · ".join(parts))
        # The footer re-asks check_action only when told: tell it when what the keys depend on
        # (a row under the cursor, how many marks, read-only candidates) changes.
        state = (current is not None, current is not None and current.entry.analysis is not None,
                 min(len(marked), 3), hidden)
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def marked_text(self, marked: list[Row]) -> str:
        """``3 marked, 1.2 MiB, frees 800 KiB``: what pruning them would give back (blobs no
        unmarked cache of the same source uses; read-only sources are left out of prunes)."""
        total = sum(max(r.size, 0) for r in marked)
        writable = [r for r in marked if not self.on_read_only_source(r)]
        text = f"[b yellow]{len(marked)} marked, {size(total)}"
        if writable:
            # An upper bound: blobs younger than the grace period stay (the plan says which).
            text += f", frees up to {size(self.freed_bytes(writable))}"
        if len(writable) < len(marked):
            text += f" ({len(marked) - len(writable)} read-only)"
        return text + "[/]"

    def freed_bytes(self, writable: list[Row]) -> int:
        """:func:`freed_estimate`, remembered until the marks or the rows change."""
        keys = tuple(row.key for row in writable)
        if self._freed is None or self._freed[:2] != (keys, self._rows_version):
            freed: int = freed_estimate(writable, self.rows.values())
            self._freed = (keys, self._rows_version, freed)
            return freed
        return self._freed[2]

    def on_read_only_source(self, row: Row) -> bool:
        state = self.sources.get(row.source_id)
        return state is not None and state.read_only

    def candidate_rows(self) -> list[Row]:
        """The rows an action acts on: the marked ones, else the one under the cursor."""
        marked = self.marked_rows()
        if marked:
            return marked
        current = self.query_one(CacheTable).current()
        return [current] if current is not None else []

    def sources_read_only(self) -> bool:
        candidates = self.candidate_rows()
        return bool(candidates) and all(self.on_read_only_source(r) for r in candidates)

    # ---- events and actions -----------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#cache-table")
    def row_highlighted(self) -> None:
        self.update_status()

    @on(DataTable.RowSelected, "#cache-table")
    def row_selected(self) -> None:
        self.action_open_cache()

    @on(DataTable.HeaderSelected, "#cache-table")
    def header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = SortKey(str(event.column_key.value))
        self.action_sort(str(key))

    @on(Tree.NodeHighlighted, "#sources")
    def source_highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        source_id = event.node.data
        tree = self.query_one(SourcesTree)
        self.source_filter = tree.source_ids_under(source_id) if source_id else None
        self.render_table()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value
        self.render_table()

    @on(Input.Submitted, "#filter")
    def filter_submitted(self) -> None:
        self.query_one(CacheTable).focus()

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        if field.value or field.display:
            field.value = ""
            field.display = False
            self.query_text = ""
            self.query_one(CacheTable).focus()
            self.render_table()

    def action_sort(self, key: str) -> None:
        new = SortKey(key)
        if new is self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key = new
            self.sort_reverse = new in (SortKey.SIZE, SortKey.MIN, SortKey.DELTA, SortKey.LAYERS,
                                        SortKey.UNREFERENCED)
        self.render_table()

    def action_mark(self) -> None:
        table = self.query_one(CacheTable)
        row = table.current()
        if row is None:
            return
        self.marks.toggle(row.key)
        self.render_table()
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)

    def action_mark_range(self, step: int) -> None:
        """Extend the marks: the current row and the next one up or down (shift+arrows)."""
        table = self.query_one(CacheTable)
        row = table.current()
        if row is None:
            return
        target = table.cursor_row + step
        if 0 <= target < table.row_count:
            table.move_cursor(row=target)
        for key in (row.key, table.rows_shown[table.cursor_row].key):
            if key not in self.marks.keys:
                self.marks.keys.append(key)
        self.render_table()

    def action_mark_all(self) -> None:
        """Mark every cache the filter shows (source error rows are not caches)."""
        marked = set(self.marks.keys)
        self.marks.keys.extend(row.key for row in self.query_one(CacheTable).rows_shown
                               if row.entry.tag != "(source)" and row.key not in marked)
        self.render_table()

    def action_clear_marks(self) -> None:
        self.clear_marks()

    def action_compare(self) -> None:
        marked = [r for r in self.marked_rows() if r.entry.analysis is not None]
        if len(marked) < 2:
            self.notify("Mark two caches with space, then press =", severity="warning")
            return
        from cachetui.tui.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(marked[-2], marked[-1]))

    def action_open_cache(self) -> None:
        row = self.query_one(CacheTable).current()
        if row is not None:
            self.open_cache(row)

    def open_cache(self, row: Row) -> None:
        """Push the cache screen of ``row`` (from the table, the space screen or a share list)."""
        if row.entry.analysis is None:
            self.notify(safe(row.entry.error or "this tag cannot be read"), title=safe(row.entry.ref),
                        severity="error")
            return
        from cachetui.tui.screens.cache import CacheScreen

        target = self.targets.get(row.source_id)
        users = blob_users(list(self.rows.values()))
        label = self.sources[row.source_id].label if row.source_id in self.sources else row.source_id
        self.app.push_screen(CacheScreen(row, target.store if target else None, users, label))

    @property
    def labels_by_source(self) -> dict[str, str]:
        return {sid: state.label for sid, state in self.sources.items()}

    def action_space(self) -> None:
        """Where the space goes, over every cache listed (whatever the filter shows)."""
        from cachetui.tui.screens.space import SpaceInputs, SpaceScreen

        def inputs() -> SpaceInputs:
            loading = sum(1 for s in self.sources.values() if s.status is SourceStatus.LOADING)
            return SpaceInputs(list(self.rows.values()),
                               {sid: target.store for sid, target in self.targets.items()},
                               self.labels_by_source, loading)

        self.app.push_screen(SpaceScreen(inputs, open_row=self.open_cache))

    def action_refresh(self) -> None:
        selected = self.query_one(SourcesTree).cursor_node
        everything = set(self.targets) | set(self.opened)
        ids = self.query_one(SourcesTree).source_ids_under(selected.data) if (
            selected is not None and selected.data) else everything
        if not ids & everything:
            ids = everything
        self.rescan(ids)
        # A registry's catalog (a folder's directories) is read again: what appeared shows.
        for group in sorted(ids & set(self.opened)):
            if group in self.sources:
                self.expand_again(group)
        self.notify(f"Refreshing {len(ids & set(self.targets))} source(s)")

    def chosen_source(self) -> str | None:
        """The source an action on a whole source acts on: the one under the cursor of the
        sources panel when it has focus, else the source of the cache under the cursor."""
        tree = self.query_one(SourcesTree)
        node = tree.cursor_node
        if tree.has_focus and node is not None and node.data in self.targets:
            return node.data
        row = self.query_one(CacheTable).current()
        return row.source_id if row is not None and row.source_id in self.targets else None

    def action_source_view(self) -> None:
        source_id = self.chosen_source()
        if source_id is None or source_id not in self.sources:
            self.notify("Move to a source or one of its caches", severity="warning", timeout=2)
            return
        from cachetui.tui.screens.source import SourceScreen

        self.app.push_screen(SourceScreen(self.sources[source_id],
                                          self.targets[source_id].store))

    def cache_from(self, row: Row) -> str | None:
        """The ``--cache-from`` spec that makes buildx import the cache of ``row``."""
        target = self.targets.get(row.source_id)
        if target is None or row.entry.tag == "(source)":
            return None
        location = target.location
        if is_digest(row.entry.tag):
            return location.with_reference(digest=Digest(row.entry.tag)).cache_from()
        return location.with_reference(tag=row.entry.tag).cache_from()

    def action_copy_cache_from(self) -> None:
        row = self.query_one(CacheTable).current()
        spec = self.cache_from(row) if row is not None else None
        if spec is None:
            self.notify("Nothing to copy: move to a cache", severity="warning", timeout=2)
            return
        self.app.copy_to_clipboard(spec)
        self.notify(f"Copied {spec}", timeout=3, markup=False)

    def action_open_source(self) -> None:
        from cachetui.tui.modals.open_source import OpenSource

        def opened(text: str | None) -> None:
            if text:
                self.load(SourceRequest(text))

        self.app.push_screen(OpenSource(), opened)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "compare":
            return True if len(self.marks.keys) >= 2 else None
        return super().check_action(action, parameters)

    def unavailable_reason(self, action: str) -> str | None:
        if action == "compare":
            return "mark two caches with space, then press ="
        return super().unavailable_reason(action)

    def own_commands(self) -> list[PaletteCommand]:
        return [
            PaletteCommand("Open a source", "Add a directory, HOST or HOST/REPO",
                           self.action_open_source),
            PaletteCommand("Refresh", "Rescan the selected source (all when none)",
                           self.action_refresh),
            PaletteCommand("Orphans and dangling references",
                           "Blobs of the source no cache names, and blobs caches name that are gone",
                           self.action_source_view),
            PaletteCommand("Where does the space go", "Deduplicated, one-cache-only and "
                           "reclaimable bytes, bytes by age, the biggest caches",
                           self.action_space),
            PaletteCommand("Compare marked caches", "Shared and unique layers of two marked caches",
                           self.action_compare),
            PaletteCommand("Mark all shown", "Mark every cache the filter shows",
                           self.action_mark_all),
            PaletteCommand("Clear marks", "Unmark every cache", self.clear_marks),
            *[PaletteCommand(f"Sort by {title}", f"Sort the cache table by {title.lower()}",
                             partial(self.action_sort, str(key))) for title, key, _ in COLUMNS],
        ]

    def clear_marks(self) -> None:
        self.marks.keys.clear()
        self.render_table()

    def on_screen_resume(self) -> None:
        self.query_one(JobsPanel).on_mount()

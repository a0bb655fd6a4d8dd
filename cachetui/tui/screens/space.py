"""Where the space goes: per source and for everything open, the bytes every cache adds up to,
stored once deduplicated, held by one cache only, reclaimable now and after the grace period;
bytes by age as a chart and the biggest caches (``enter`` opens one).

The figures come from the analyses the main screen already has (:mod:`cachetui.ops.space`),
computed in a thread; the reclaimable bytes come from the stores' own gc plans
(:mod:`cachetui.ops.reclaim`), which arrive after (a directory's plan reads its blobs' times).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from cachetui.ops.reclaim import reclaim_all
from cachetui.ops.space import ALL, Reclaim, SpaceFigures, SpaceReport, space_report
from cachetui.present.safe_text import safe
from cachetui.present.space import CHART_TITLE, summary_lines
from cachetui.store.base import Store
from cachetui.tui.keymap import identify
from cachetui.tui.model import Row, compact_age, compact_size
from cachetui.tui.screens.base import ExtensibleScreen, PaletteCommand
from cachetui.tui.widgets.age_chart import AgeChart
from cachetui.tui.widgets.fitting_footer import FittingFooter

WIDE = 130
"""From this width the chart and the biggest caches sit side by side."""
PENDING = "…"
SOURCE_ROWS = 6
"""Height of the sources table (header included) on a 24-row terminal."""


@dataclass(frozen=True, slots=True)
class SpaceInputs:
    """What the screen adds up, asked for again on every recompute (sources keep loading)."""

    rows: list[Row]
    stores: Mapping[str, Store]
    labels: Mapping[str, str]
    loading: int = 0
    """Sources still being listed: their figures are not complete yet."""


class SpaceScreen(ExtensibleScreen):
    SCREEN_NAME = "space"
    DEFAULT_CSS = """
    #space-body { padding: 0 1; }
    #space-summary { height: auto; }
    #space-sources { height: auto; margin-top: 1; }
    #space-lower { height: 1fr; }
    #space-age { height: auto; margin-top: 1; }
    #space-biggest { height: 1fr; min-height: 3; }
    SpaceScreen.-wide #space-lower { layout: horizontal; margin-top: 1; }
    SpaceScreen.-wide #space-age { width: 60; margin: 0 2 0 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = identify("space", [
        Binding("escape", "back", "Back"),
        Binding("ctrl+r", "refresh", "Recompute"),
        Binding("j", "down", "Down", show=False),
        Binding("k", "up", "Up", show=False),
    ])

    def __init__(self, inputs: Callable[[], SpaceInputs],
                 open_row: Callable[[Row], None] | None = None) -> None:
        super().__init__()
        self.inputs = inputs
        self.open_row = open_row
        self.rows: list[Row] = []
        self.labels: dict[str, str] = {}
        self.still_loading = 0
        self.report: SpaceReport | None = None
        self.reclaim: dict[str, Reclaim] | None = None
        self.selected = ALL
        self._by_entry: dict[int, Row] = {}

    def crumbs(self) -> Text:
        crumbs = Text("cachetui", style="bold")
        for part in ("where the space goes", self.label(self.selected)):
            crumbs.append(" › ", style="dim")
            crumbs.append(part)
        return crumbs

    def compose(self) -> ComposeResult:
        yield Static(self.crumbs(), id="breadcrumbs")
        with Vertical(id="space-body"):
            yield Static(Text("adding up…", style="dim"), id="space-summary")
            yield DataTable(id="space-sources", cursor_type="row", zebra_stripes=True)
            with Vertical(id="space-lower"):
                with Vertical(id="space-age"):
                    yield Static(Text(CHART_TITLE, style="bold"), id="space-age-title")
                    yield AgeChart(id="space-chart")
                yield DataTable(id="space-biggest", cursor_type="row", zebra_stripes=True)
        yield FittingFooter()

    def on_mount(self) -> None:
        sources = self.query_one("#space-sources", DataTable)
        for title, key, width in (("Source", "source", None), ("Caches", "caches", 6),
                                  ("Total", "total", 7), ("Unique", "unique", 7),
                                  ("1 cache", "only", 7), ("Free now", "now", 8),
                                  ("Later", "later", 7)):
            label = Text(title, justify="left" if key == "source" else "right")
            sources.add_column(label, key=key, width=width)
        biggest = self.query_one("#space-biggest", DataTable)
        biggest.add_column("Biggest caches", key="cache")
        for title, key in (("Size", "size"), ("Only here", "only"), ("Newest", "newest")):
            biggest.add_column(Text(title, justify="right"), key=key)
        self.on_resize()
        sources.focus()
        self.compute()

    def on_resize(self) -> None:
        self.set_class(self.size.width >= WIDE, "-wide")
        # The sources get the rows a tall terminal has to spare; at 24 rows, a screenful of 5.
        rows = max(SOURCE_ROWS, min(self.size.height - 22, 3 * SOURCE_ROWS))
        self.query_one("#space-sources", DataTable).styles.max_height = rows

    # ---- computing --------------------------------------------------------------------------

    @work(group="space", exclusive=True, exit_on_error=False)
    async def compute(self) -> None:
        """Figures first (a thread: 3,000 caches take a moment), then the reclaimable bytes
        from the stores' gc plans, then the figures again with them."""
        inputs = self.inputs()
        self.rows = [row for row in inputs.rows if row.entry.tag != "(source)"]
        self.labels = dict(inputs.labels)
        self.still_loading = inputs.loading
        self._by_entry = {id(row.entry): row for row in self.rows}
        entries = [row.entry for row in self.rows]
        now = self.cachetui.now()
        self.reclaim = None
        self.show(await asyncio.to_thread(space_report, entries, {}, now=now))
        reclaim = await reclaim_all(inputs.stores.values())
        self.reclaim = reclaim
        self.show(await asyncio.to_thread(space_report, entries, reclaim, now=now))

    def action_refresh(self) -> None:
        self.compute()

    # ---- showing ----------------------------------------------------------------------------

    def label(self, name: str) -> str:
        return "All open" if name == ALL else safe(self.labels.get(name, name))

    def reclaim_cell(self, value: int | None) -> Text:
        if self.reclaim is None:
            return Text(PENDING, justify="right", style="dim")
        return Text(compact_size(value) if value is not None else "?", justify="right")

    def show(self, report: SpaceReport) -> None:
        self.report = report
        table = self.query_one("#space-sources", DataTable)
        cursor = table.cursor_row
        table.clear()
        for figures in (report.overall, *report.sources):
            table.add_row(
                Text(self.label(figures.name), style="bold" if figures.name == ALL else ""),
                Text(str(figures.caches), justify="right"),
                Text(compact_size(figures.total_bytes), justify="right"),
                Text(compact_size(figures.unique_bytes), justify="right"),
                Text(compact_size(figures.only_one_bytes), justify="right"),
                self.reclaim_cell(figures.reclaim_now),
                self.reclaim_cell(figures.reclaim_later),
                key=figures.name,
            )
        if table.row_count:
            table.move_cursor(row=min(max(cursor, 0), table.row_count - 1))
        self.show_selected()

    def show_selected(self) -> None:
        report = self.report
        if report is None:
            return
        try:
            figures = report.figures(self.selected)
        except KeyError:
            self.selected = ALL
            figures = report.overall
        self.query_one("#space-summary", Static).update(self.summary(figures, report))
        self.query_one("#breadcrumbs", Static).update(self.crumbs())
        self.query_one("#space-chart", AgeChart).show(figures.ages)
        self.fill_biggest(figures, report)

    def summary(self, figures: SpaceFigures, report: SpaceReport) -> Text:
        everywhere = report.unique_everywhere_bytes if figures.name == ALL else None
        lines = summary_lines(figures, unique_everywhere=everywhere)
        if self.reclaim is None:
            lines.insert(1, "reclaimable: asking the stores' gc plans…")
        text = Text("\n".join(safe(line) for line in lines))
        if self.still_loading:
            text.append(f"\n{self.still_loading} source(s) were still loading: ctrl+r recomputes",
                        style="yellow")
        return text

    def fill_biggest(self, figures: SpaceFigures, report: SpaceReport) -> None:
        table = self.query_one("#space-biggest", DataTable)
        table.clear()
        for item in figures.biggest:
            row = self._by_entry.get(id(item.entry))
            where = self.labels.get(item.entry.source, item.entry.source)
            table.add_row(
                Text(safe(f"{where}:{item.entry.tag}")),
                Text(compact_size(item.size_bytes), justify="right"),
                Text(compact_size(item.only_here_bytes), justify="right"),
                Text(compact_age(item.newest, report.now), justify="right"),
                key=row.key if row is not None else None,
            )

    # ---- events and actions -----------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#space-sources")
    def source_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is not None and key != self.selected:
            self.selected = str(key)
            self.show_selected()

    @on(DataTable.RowSelected, "#space-sources")
    def source_selected(self) -> None:
        self.query_one("#space-biggest", DataTable).focus()

    @on(DataTable.RowSelected, "#space-biggest")
    def cache_selected(self, event: DataTable.RowSelected) -> None:
        self.open_cache(event.row_key.value)

    def open_cache(self, key: str | None) -> None:
        row = next((r for r in self.rows if r.key == key), None)
        if row is None or self.open_row is None:
            return
        self.open_row(row)

    def focused_table(self) -> DataTable[Text]:
        focused = self.focused
        if isinstance(focused, DataTable):
            return focused
        return self.query_one("#space-sources", DataTable)

    def action_down(self) -> None:
        self.focused_table().action_cursor_down()

    def action_up(self) -> None:
        self.focused_table().action_cursor_up()

    def action_back(self) -> None:
        self.app.pop_screen()

    def own_commands(self) -> list[PaletteCommand]:
        return [PaletteCommand("Recompute", "Add up the caches and ask the gc plans again",
                               self.action_refresh)]

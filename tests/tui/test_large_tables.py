"""Tables that are updated in place: the cache table keeps its displayed order equal to the model
after sorts, filters and marks; a large cache's layers table fills in batches after the first
paint and measures uncompressed sizes only when asked."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.style import Style
from rich.text import Text

from cachetui.demo.dataset import FIXED_NOW
from cachetui.demo.generator import CacheShape, write_cache
from cachetui.tui.app import CachetuiApp
from cachetui.tui.model import Row, SortKey, SourceStatus, compact_age, compact_size
from cachetui.tui.screens.cache import AUTO_MEASURE_LAYERS, CacheScreen
from cachetui.tui.screens.main import MainScreen
from cachetui.tui.widgets.cache_table import CacheTable
from cachetui.tui.widgets.layers_table import FIRST_ROWS, LayersTable
from tests.tui.conftest import settle

AppFactory = Callable[..., CachetuiApp]
SIZE = (120, 36)


def main_screen(app: CachetuiApp) -> MainScreen:
    screen = app.screen_stack[1]
    assert isinstance(screen, MainScreen)
    return screen


def displayed(table: CacheTable) -> list[tuple[str, str]]:
    """(ref, where) of each displayed row, in display order."""
    out = []
    for index in range(table.row_count):
        cells = table.get_row_at(index)
        name = cells[0].plain if isinstance(cells[0], Text) else str(cells[0])
        out.append((name[2:], str(cells[1])))
    return out


def expected(main: MainScreen, table: CacheTable) -> list[tuple[str, str]]:
    labels = {sid: s.label for sid, s in main.sources.items()}
    out = []
    for row in table.rows_shown:
        cells = table.fitted(table.cells(row, False, {}, labels, main.cachetui.now()))
        out.append((cells[0].plain[2:], str(cells[1])))  # type: ignore[union-attr]
    return out


async def test_displayed_order_follows_sorts_filters_and_marks(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        table = main.query_one(CacheTable)
        assert displayed(table) == expected(main, table)
        await pilot.press("j", "j")  # off the top row (the top row stays on top while loading)
        for keys in (("S",), ("S",), ("A",), ("N",), ("slash", *"app", "enter"), ("escape",),
                     ("space", "space"), ("slash", *"!min", "enter"), ("escape",)):
            before = table.current_key()
            await pilot.press(*keys)
            await settle(pilot)
            assert displayed(table) == expected(main, table), keys
            if keys[0] in ("S", "A", "N") and before is not None:
                assert table.current_key() == before  # the cursor stays on its row
        assert len(main.marks.keys) == 2
        marked = [index for index in range(table.row_count)
                  if str(table.get_row_at(index)[0]).startswith("●")]
        assert sorted(table.rows_shown[i].key for i in marked) == sorted(main.marks.keys)


async def test_large_cache_layers_fill_in_batches_and_measure_on_request(
        app_factory: AppFactory, tmp_path: Path) -> None:
    shape = CacheShape(stages=16, steps_per_stage=19, final_steps=4, layer_bytes=64, seed=3)
    write_cache(tmp_path / "large", "large", shape)
    app = app_factory([str(tmp_path / "large")])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        [row] = main_screen(app).rows.values()
        assert row.entry.analysis is not None
        count = row.entry.analysis.layer_count
        assert count > max(AUTO_MEASURE_LAYERS, FIRST_ROWS)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, CacheScreen)
        table = screen.query_one(LayersTable)
        await settle(pilot)
        assert table.complete and table.row_count == count
        assert [str(k.value) for k in table.rows] == [layer.digest for layer in
                                                     row.entry.analysis.layers]
        # Too many layers to read on open: nothing measured until u.
        assert {str(table.get_cell(d, "usize")) for d in table.rows} == {"-"}
        assert not screen.measuring
        await pilot.press("u")
        await settle(pilot)
        values = {str(table.get_cell(d, "usize")) for d in table.rows}
        assert not values & {"-", "…", "error"}


async def test_redraws_remake_only_rows_whose_cells_changed(
        app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A redraw while sources stream in reuses the cells of unchanged rows (making every cell of
    3,000 rows on each redraw stalled the UI), yet a mark, a new answer for a tag, or a clock
    that moved on still shows."""
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        table = main.query_one(CacheTable)
        while not main.sources or any(s.status is SourceStatus.LOADING
                                      for s in main.sources.values()):
            await settle(pilot)
        await settle(pilot)
        made: list[str] = []
        original = CacheTable.cells

        def counted(self: CacheTable, row: Row, *args: Any) -> list[Text | str]:
            made.append(row.key)
            return original(self, row, *args)

        monkeypatch.setattr(CacheTable, "cells", counted)
        main.render_table()
        assert made == []
        assert displayed(table) == expected(main, table)  # (expected() makes cells itself)
        made.clear()

        first = table.rows_shown[0].key
        await pilot.press("space")
        await settle(pilot)
        assert made == [first]
        assert str(table.get_row_at(0)[0]).startswith("●")

        made.clear()
        row = main.rows[first]
        other = next(r.entry for r in main.rows.values() if r.entry.analysis is not None
                     and row.entry.analysis is not None
                     and r.entry.analysis.size_bytes != row.entry.analysis.size_bytes)
        assert other.analysis is not None
        fresh = dataclasses.replace(row.entry, analysis=other.analysis)  # a new answer
        main.rows[first] = dataclasses.replace(row, entry=fresh)
        main.render_table()
        assert made == [first]
        assert str(table.get_cell(first, str(SortKey.SIZE))) == compact_size(
            other.analysis.size_bytes)

        made.clear()
        later = FIXED_NOW + timedelta(days=400)
        monkeypatch.setattr(app, "now", lambda: later)
        main.render_table()
        dated = [r for r in table.rows_shown
                 if r.entry.analysis is not None and r.entry.analysis.created_newest is not None]
        assert dated and set(made) >= {r.key for r in dated}
        for r in dated:
            assert r.entry.analysis is not None
            age = compact_age(r.entry.analysis.created_newest, later).removesuffix(" ago")
            assert str(table.get_cell(r.key, str(SortKey.AGE))) == age
            assert age.endswith(("mo", "y")), age


async def test_redraws_while_streaming_slow_down_at_thousands_of_rows(
        app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each redraw re-sorts and repaints the table: past MANY_ROWS rows they come at most every
    RENDER_DELAY_MANY seconds, below it every RENDER_DELAY (and the first paint at once)."""
    from cachetui.tui.screens import main as main_module

    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        delays: list[float] = []
        monkeypatch.setattr(main, "set_timer", lambda delay, callback: delays.append(delay))
        main.schedule_render()
        main._render_pending = False
        some = next(iter(main.rows.values()))
        for index in range(main_module.MANY_ROWS):
            main.rows[f"extra\t{index}"] = dataclasses.replace(some, key=f"extra\t{index}")
        main.schedule_render()
        assert delays == [main_module.RENDER_DELAY, main_module.RENDER_DELAY_MANY]
        assert main_module.RENDER_DELAY_MANY > main_module.RENDER_DELAY


def count_cell_renders(app: CachetuiApp, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every table cell (not a header) Rich renders from now on: the cache table's own
    renderings (a Padding) and DataTable's (a Styled whose mouse metadata names a row)."""
    from rich.padding import Padding
    from textual.renderables.styled import Styled

    console = app.console
    original = console.render_lines
    rendered: list[object] = []

    def counted(renderable: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(renderable, Padding) or (
                isinstance(renderable, Styled) and isinstance(renderable.pre_style, Style)
                and renderable.pre_style.meta.get("row", -1) >= 0):
            rendered.append(renderable)
        return original(renderable, *args, **kwargs)

    monkeypatch.setattr(console, "render_lines", counted)
    return rendered


async def test_moved_cells_render_as_datatable_renders_them_without_rendering_again(
        app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache table keeps cell renderings across redraws (DataTable drops them whenever a row
    is added or sorted); a cell that moved, or whose row style changed (the zebra stripes, the
    cursor, a mark), shows exactly what DataTable would render there, mouse metadata (its new
    row) included, mostly without Rich rendering it again."""
    from textual.widgets import DataTable

    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = main_screen(app).query_one(CacheTable)
        await pilot.press("j")
        rendered = count_cell_renders(app, monkeypatch)
        for keys in (("S",), ("N",), ("A",), ("j", "space"), ("k",), ("tab",)):
            rendered.clear()
            await pilot.press(*keys)
            await settle(pilot)
            painted = len(rendered)  # cells rendered by the redraws after the keys
            table._clear_caches()  # as a new row or sort does: lines are made from cells again
            lines = [table.render_line(y) for y in range(table.size.height)]
            with monkeypatch.context() as datatable_alone:
                datatable_alone.setattr(CacheTable, "_render_cell", DataTable._render_cell)
                datatable_alone.setattr(CacheTable, "_get_row_style", DataTable._get_row_style)
                table._clear_caches()
                rendered.clear()
                fresh = [table.render_line(y) for y in range(table.size.height)]
            cells = len(rendered)
            assert cells >= table.row_count * 5, keys  # every visible cell rendered afresh
            assert lines == fresh, keys  # segments, colours and metadata alike
            assert [[s.style.meta if s.style else None for s in line] for line in lines] == \
                [[s.style.meta if s.style else None for s in line] for line in fresh], keys
            if keys != ("tab",):  # (focus elsewhere: every cell looks different)
                assert painted < cells / 2, (keys, painted, cells)  # cells kept their rendering
        assert not table.has_focus


async def test_rows_found_by_line_as_datatable_finds_them(app_factory: AppFactory) -> None:
    """The cache table finds the row at a line by its index (its rows are one line high)
    instead of DataTable's list of every line, rebuilt after each added row: same answers."""
    from textual.widgets import DataTable

    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = main_screen(app).query_one(CacheTable)
        await pilot.press("S")
        await settle(pilot)
        assert table.row_count > 3

        def both(y: int) -> tuple[object, object]:
            answers: list[object] = []
            for find in (CacheTable._get_offsets, DataTable._get_offsets):
                try:
                    answers.append(find(table, y))
                except LookupError:
                    answers.append(LookupError)
            return answers[0], answers[1]

        for y in range(table.row_count + table.header_height + 3):
            ours, theirs = both(y)
            assert ours == theirs, y
        ours_total: Any = CacheTable.__dict__["_total_row_height"]
        theirs_total: Any = DataTable.__dict__["_total_row_height"]
        assert ours_total.fget(table) == theirs_total.fget(table)


async def test_rows_streaming_in_below_the_view_render_no_visible_cell_again(
        app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a registry fills, most new rows sort below what the table shows: the redraws they
    cause render none of the visible cells again, however many rows the table holds (DataTable
    alone rendered every visible cell at each of them)."""

    from cachetui.ops.inventory import EntryScanned
    from cachetui.tui.messages import ScanBatch

    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        table = main.query_one(CacheTable)
        model = next(r for r in main.rows.values() if r.entry.analysis is not None)
        source = model.source_id

        async def stream(first: int, count: int) -> None:
            events = [EntryScanned(dataclasses.replace(model.entry, tag=f"zz-{i:05d}"), i, i)
                      for i in range(first, first + count)]
            main.post_message(ScanBatch(source, list(events)))
            await settle(pilot)

        await stream(0, 2 * SIZE[1])  # more rows than the table shows
        assert table.row_count > table.size.height
        rendered = count_cell_renders(app, monkeypatch)
        for first in (1000, 2000, 3000):
            before = table.row_count
            await stream(first, 100)
            assert table.row_count == before + 100
            assert rendered == [], first  # the rows shown kept their renderings
        table._rendered.clear()
        table._unstyled.clear()
        table._clear_caches()
        table.refresh()
        await pilot.pause()
        assert rendered  # (the count sees renderings when there are some)

"""The space screen (``w``) and the share list of a layer (``s`` or ``enter`` in the layers table):
figures equal to the model, per-source selection, jumps into caches, no truncated labels at
80x24, work off the event loop, ASCII bars; snapshots at 80x24 and 140x40 (issue 14 add 1)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable

from cachetui.config import parse_config
from cachetui.ops import space as space_ops
from cachetui.ops.space import space_report
from cachetui.tui.app import CachetuiApp, make_app
from cachetui.tui.modals.shares import SharesModal
from cachetui.tui.screens.cache import CacheScreen
from cachetui.tui.screens.main import MainScreen
from cachetui.tui.screens.space import SpaceScreen
from cachetui.tui.widgets.age_chart import AgeChart
from tests.fixtures import fixture_dir
from tests.tui.conftest import clock, settle

AppFactory = Callable[..., CachetuiApp]
SnapCompare = Callable[..., bool]
SIZES = [(80, 24), (140, 40)]


def main_screen(app: CachetuiApp) -> MainScreen:
    screen = app.screen_stack[1]
    assert isinstance(screen, MainScreen)
    return screen


def variants_app(monkeypatch: pytest.MonkeyPatch) -> CachetuiApp:
    """gzip, zstd and uncompressed exports of one build: the same layers in three encodings."""
    names = ("gzip", "zstd", "uncompressed")
    root = fixture_dir("buildkit-variants", "gzip").parent
    monkeypatch.chdir(root.parent)  # relative paths: snapshots independent of the checkout
    monkeypatch.setenv("CACHETUI_CONFIG", "/nonexistent/config.toml")
    return make_app([f"./{root.name}/{name}" for name in names], clock=clock,
                    use_config_sources=False)


def fits(table: DataTable[Any]) -> bool:
    """Every column whole: the table needs no horizontal scrolling."""
    return table.virtual_size.width <= table.scrollable_content_region.width


def cell_text(table: DataTable[Any], row: int, column: int) -> str:
    cell = table.get_row_at(row)[column]
    return cell.plain if isinstance(cell, Text) else str(cell)


async def open_space(pilot: Pilot[None]) -> SpaceScreen:
    await settle(pilot)
    await pilot.press("w")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, SpaceScreen)
    return screen


async def test_figures_are_the_model_of_every_listed_cache(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        main = main_screen(app)
        space = await open_space(pilot)
        assert space.report is not None and space.reclaim is not None
        entries = [r.entry for r in main.rows.values() if r.entry.tag != "(source)"]
        model = space_report(entries, space.reclaim, now=clock())
        assert space.report.overall == model.overall
        table = space.query_one("#space-sources", DataTable)
        assert table.row_count == 1 + len(model.sources)
        assert cell_text(table, 0, 0) == "All open"
        assert cell_text(table, 0, 1) == str(model.overall.caches)
        # the demo's CI runner left stale blobs behind: reclaimable now, from gc's own plan
        runner = next(f for f in model.sources if f.name.endswith("ci-runner"))
        unreferenced = main.sources[runner.name].unreferenced
        assert unreferenced and runner.reclaim_now == unreferenced
        # highlighting a source shows its chart and its biggest caches
        index = 1 + list(model.sources).index(runner)
        table.move_cursor(row=index)
        await settle(pilot)
        assert space.selected == runner.name
        assert space.query_one(AgeChart).bars == runner.ages
        biggest = space.query_one("#space-biggest", DataTable)
        assert biggest.row_count == runner.caches
        assert all(cell_text(biggest, i, 0).startswith("ci-runner:")
                   for i in range(biggest.row_count))


async def test_enter_on_a_big_cache_opens_it_and_esc_comes_back(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        space = await open_space(pilot)
        assert space.report is not None
        top = space.report.overall.biggest[0]
        await pilot.press("enter")  # from the sources table: on to the biggest caches
        await pilot.press("enter")
        await settle(pilot)
        cache = app.screen
        assert isinstance(cache, CacheScreen) and cache.row.entry is top.entry
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is space


async def test_no_truncated_labels_at_80x24(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        space = await open_space(pilot)
        for table_id in ("#space-sources", "#space-biggest"):
            assert fits(space.query_one(table_id, DataTable)), table_id
        await pilot.press("escape", "enter", "2", "s")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, SharesModal)
        assert fits(modal.query_one("#shares-blob", DataTable))


async def test_the_figures_are_added_up_off_the_event_loop(
        app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """3,000 caches take a moment to add up: the screen never does it on the UI thread."""
    threads: list[threading.Thread] = []
    real = space_ops.space_report

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr("cachetui.tui.screens.space.space_report", spy)
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await open_space(pilot)
    assert len(threads) == 2  # without, then with the reclaimable bytes
    assert all(thread is not threading.main_thread() for thread in threads)


async def test_ascii_terminal_draws_the_chart_with_hashes(app_factory: AppFactory) -> None:
    app = app_factory()
    app.ascii_only = True
    async with app.run_test(size=(120, 36)) as pilot:
        space = await open_space(pilot)
        rendered = space.query_one(AgeChart).render()
        assert isinstance(rendered, Text)
        assert rendered.plain.isascii() and "#" in rendered.plain


async def test_share_list_jumps_into_the_cache_that_holds_the_same_content(
        monkeypatch: pytest.MonkeyPatch) -> None:
    app = variants_app(monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        main = main_screen(app)
        gzip = next(r for r in main.rows.values() if r.entry.source.endswith("/gzip"))
        main.open_cache(gzip)
        await settle(pilot)
        await pilot.press("2", "enter")  # enter on a layer lists the caches that share it
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, SharesModal) and modal.found is not None
        assert [h.entry.source.rsplit("/", 1)[-1] for h in modal.found.same_blob] == ["gzip"]
        assert sorted(h.entry.source.rsplit("/", 1)[-1] for h in modal.found.same_content) == [
            "uncompressed", "zstd"]
        content = modal.query_one("#shares-content", DataTable)
        await pilot.press("tab")
        assert app.focused is content
        target = modal.found.same_content[0].entry
        await pilot.press("enter")
        await settle(pilot)
        opened = app.screen
        assert isinstance(opened, CacheScreen) and opened.row.entry is target
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CacheScreen) and app.screen.row is gzip


async def test_s_outside_a_layer_says_where_to_go(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "s")  # summary tab: no layer under the cursor
        await settle(pilot)
        assert isinstance(app.screen, CacheScreen)
        assert any("layer" in str(n.message) for n in app._notifications)


async def test_keys_are_listed_in_help_and_remappable(app_factory: AppFactory) -> None:
    config = parse_config('[keymap]\n"main.space" = "U"\n')
    app = app_factory(config=config)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        rows = {row[1]: (row[0], row[3]) for row in app.screen.rows}  # type: ignore[attr-defined]
        assert rows["Usage"] == ("U", "Look")
        await pilot.press("escape", "w")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        await pilot.press("U")
        await settle(pilot)
        assert isinstance(app.screen, SpaceScreen)
        await pilot.press("escape", "enter", "question_mark")
        rows = {row[1]: (row[0], row[3]) for row in app.screen.rows}
        assert rows["Shared by"] == ("s", "Look")


@pytest.mark.parametrize("size", SIZES)
def test_space_snapshot(snap_compare: SnapCompare, app_factory: AppFactory,
                        size: tuple[int, int]) -> None:
    async def run(pilot: Pilot[None]) -> None:
        await open_space(pilot)

    assert snap_compare(app_factory(), terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_shares_snapshot(snap_compare: SnapCompare, monkeypatch: pytest.MonkeyPatch,
                         size: tuple[int, int]) -> None:
    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("enter", "2", "s")
        await settle(pilot)

    assert snap_compare(variants_app(monkeypatch), terminal_size=size, run_before=run)


async def test_3000_caches_add_up_and_list_without_stalling(
        app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """30 sources of 100 caches: the space screen adds them all up; a layer all of them hold
    lists 3,000 caches, the first screenful at once and the rest in batches."""
    from cachetui.ops.inventory import CacheEntry
    from cachetui.tui.model import Row

    gzip = fixture_dir("buildkit-variants", "gzip")
    app = app_factory([str(gzip)])
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        main = main_screen(app)
        [seed] = [r for r in main.rows.values() if r.entry.analysis is not None]
        main.rows = {}
        for i in range(3000):
            entry = CacheEntry(f"reg.example/repo{i % 30}", "registry", f"tag-{i}",
                               seed.entry.analysis)
            key = f"{entry.source}\t{entry.tag}"
            main.rows[key] = Row(key, entry.source, entry)
        space = await open_space(pilot)
        assert space.report is not None
        # 30 repositories, and the opened directory whose row this test took away (its gc
        # plan still reports: a source is listed when it has caches or a reclaim figure)
        assert space.report.overall.caches == 3000 and len(space.report.sources) == 31
        assert space.query_one("#space-sources", DataTable).row_count == 32
        await pilot.press("escape")
        assert seed.entry.analysis is not None
        digest = seed.entry.analysis.layers[0].digest
        modal = SharesModal(digest, list(main.rows.values()), {})
        await app.push_screen(modal)
        await settle(pilot)
        table = modal.query_one("#shares-blob", DataTable)
        for _ in range(50):
            if table.row_count == 3000:
                break
            await pilot.pause()
        assert table.row_count == 3000

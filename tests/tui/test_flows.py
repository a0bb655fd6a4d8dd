"""Pilot tests for every flow of the TUI, asserting on widget state and messages."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.command import CommandPalette
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from cachetui.ops.progress import CancelToken, Progress, ProgressSink
from cachetui.tui import extensions
from cachetui.tui.app import CachetuiApp
from cachetui.tui.jobs import JobState
from cachetui.tui.messages import JobEnded, ScanBatch
from cachetui.tui.model import SortKey, SourceStatus
from cachetui.tui.screens.cache import CacheScreen
from cachetui.tui.screens.compare import CompareScreen
from cachetui.tui.screens.help import HelpScreen
from cachetui.tui.screens.main import MainScreen
from cachetui.tui.widgets.cache_table import CacheTable
from cachetui.tui.widgets.jobs_panel import JobLine
from cachetui.tui.widgets.layers_table import LayersTable
from cachetui.tui.widgets.raw_view import RawView
from cachetui.tui.widgets.records_tree import RecordsTree
from tests.fixtures import fixture_dir
from tests.tui.conftest import settle

AppFactory = Callable[..., CachetuiApp]
SIZE = (120, 36)


def main_screen(app: App[None]) -> MainScreen:
    screen = app.screen_stack[1]
    assert isinstance(screen, MainScreen)
    return screen


async def test_main_screen_streams_every_demo_cache_and_shows_the_broken_one(
        app_factory: AppFactory) -> None:
    captured: list[Message] = []
    app = app_factory()
    async with app.run_test(size=SIZE, message_hook=captured.append) as pilot:
        await settle(pilot)
        main = main_screen(app)
        table = main.query_one(CacheTable)
        assert table.row_count == 11
        assert any(isinstance(m, ScanBatch) for m in captured)
        broken = next(s for s in main.sources.values() if s.id.endswith("broken"))
        assert broken.status is SourceStatus.FAILED
        assert broken.error is not None and "malformed JSON" in broken.error
        runner = next(s for s in main.sources.values() if s.id.endswith("ci-runner"))
        assert (runner.done, runner.total, runner.status) == (4, 4, SourceStatus.DONE)
        assert runner.unreferenced is not None and runner.unreferenced > 0
        status = str(main.query_one("#status", Static).render())
        assert "11 of 11 caches" in status and "1 failed" in status


async def test_navigate_with_j_k_g_G(app_factory: AppFactory) -> None:
    async with app_factory().run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = main_screen(pilot.app).query_one(CacheTable)
        await pilot.press("j", "j", "down")
        assert table.cursor_row == 3
        await pilot.press("k")
        assert table.cursor_row == 2
        await pilot.press("G")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("g")
        assert table.cursor_row == 0


async def test_filter_substring_negation_and_escape(app_factory: AppFactory) -> None:
    async with app_factory().run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(pilot.app)
        table = main.query_one(CacheTable)
        await pilot.press("slash")
        assert main.query_one("#filter", Input).has_focus
        await pilot.press(*"runner")
        assert {r.entry.source.rsplit("/", 1)[-1] for r in table.rows_shown} == {"ci-runner"}
        assert table.row_count == 4
        await pilot.press("home", "exclamation_mark", "enter")
        assert table.row_count == 7 and table.has_focus
        await pilot.press("escape")
        assert table.row_count == 11
        assert not main.query_one("#filter", Input).display


async def test_sort_keys_and_header_click(app_factory: AppFactory) -> None:
    async with app_factory().run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(pilot.app)
        table = main.query_one(CacheTable)
        await pilot.press("S")
        assert (main.sort_key, main.sort_reverse) == (SortKey.SIZE, True)
        sizes = [r.size for r in table.rows_shown if r.entry.analysis]
        assert sizes == sorted(sizes, reverse=True)
        await pilot.press("A")
        assert main.sort_key is SortKey.AGE
        await pilot.press("N")
        assert (main.sort_key, main.sort_reverse) == (SortKey.NAME, False)
        assert table.rows_shown[0].name == "buildcache"
        # The "Lay" header: after the columns before it, each padded by 1 cell per side.
        titles = table.shown_columns()
        before = sum(width + 2 for _, width in table.layout_now[:titles.index("Lay")])
        await pilot.click(CacheTable, offset=(before + 1, 0))
        assert str(main.sort_key) == "layers"
        layers = [r.entry.analysis.layer_count for r in table.rows_shown if r.entry.analysis]
        assert layers == sorted(layers, reverse=True)


async def test_y_on_a_row_copies_the_cache_from_spec_that_imports_it(
        app_factory: AppFactory) -> None:
    from cachetui.locations import parse_location

    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        row = main.query_one(CacheTable).current()
        assert row is not None and row.entry.analysis is not None
        await pilot.press("y")
        spec = app.clipboard
        assert spec.startswith("type=local,src=/") and spec.endswith(f",tag={row.entry.tag}")
        # The spec opens the same store and tag again.
        location = parse_location(spec)
        assert location.id == main.targets[row.source_id].store.id
        assert location.tag == row.entry.tag


async def test_open_cache_views_copy_and_back(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        row = main.query_one(CacheTable).rows_shown[0]
        assert row.entry.analysis is not None
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CacheScreen)
        crumbs = str(screen.query_one("#breadcrumbs", Static).render())
        assert "app-max" in crumbs and "buildcache" in crumbs and "summary" in crumbs
        await pilot.press("2")
        await settle(pilot)
        layers = screen.query_one(LayersTable)
        assert layers.row_count == row.entry.analysis.layer_count
        measured = [str(layers.get_cell(d, "usize")) for d in layers.rows]
        assert all(value not in ("…", "-", "error") for value in measured)
        await pilot.press("y")
        assert app.clipboard == layers.current_digest()
        await pilot.press("3")
        tree = screen.query_one(RecordsTree)
        assert tree.root.children and tree.has_focus
        await pilot.press("enter")  # expand the first final record: its result chains appear
        await pilot.pause()
        assert tree.root.children[0].children
        await pilot.press("4")
        await settle(pilot)
        assert len(screen.query_one("#raw-manifest", RawView).lines) > 10
        await pilot.press("y")
        assert app.clipboard == row.entry.analysis.document.top.digest
        await pilot.press("5")
        await settle(pilot)
        assert len(screen.query_one("#raw-config", RawView).lines) > 10
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_mark_two_and_compare(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        await pilot.press("equals_sign")  # nothing marked: a warning, no screen
        assert app.screen is main
        await pilot.press("space", "down", "space")  # app-max, then app-min (seed shared)
        assert len(main.marks.keys) == 2
        status = str(main.query_one("#status", Static).render())
        assert "2 marked" in status
        await pilot.press("equals_sign")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen) and screen.diff is not None
        assert screen.diff.shared_layers and screen.diff.only_left and not screen.diff.only_right
        table = screen.query_one("#compare-layers", DataTable)
        assert table.row_count == len(screen.diff.shared_layers) + len(screen.diff.only_left)
        await pilot.press("escape")
        assert app.screen is main


async def test_help_lists_the_bindings_of_the_current_screen(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        descriptions = {row[1] for row in help_screen.rows}
        assert {"Mark", "Compare", "Filter", "Sort size", "Sort age", "Sort name", "Refresh",
                "Quit"} <= descriptions
        await pilot.press("escape")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("question_mark")
        descriptions = {row[1] for row in app.screen.rows}  # type: ignore[attr-defined]
        assert {"Back", "Copy digest", "Next tab"} <= descriptions
        assert "Mark" not in descriptions


async def test_palette_offers_screen_commands(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        titles = {c.title for c in main.palette_commands()}
        assert {"Open a source", "Refresh", "Compare marked caches", "Sort by Size"} <= titles
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Sort by Size")
        await pilot.pause()
        await app.screen.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert main.sort_key is SortKey.SIZE


async def test_sources_that_fail_show_in_place(app_factory: AppFactory, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    app = app_factory([str(tmp_path / "missing"), str(empty), "127.0.0.1:9",
                       str(fixture_dir("buildkit", "local-min"))])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        failed = {s.id: s.error for s in main.sources.values() if s.status is SourceStatus.FAILED}
        assert len(failed) == 3
        assert any("no such directory" in (e or "") for e in failed.values())
        assert any("no cache directories found" in (e or "") for e in failed.values())
        assert "127.0.0.1:9" in failed
        table = main.query_one(CacheTable)
        assert table.row_count == 4  # three failure rows and local-min's one tag
        await pilot.press("G", "enter")  # opening a failure row explains, never crashes
        assert app.screen is main


async def test_refresh_rescans(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        before = set(main.rows)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert set(main.rows) == before
        assert all(s.status is not SourceStatus.LOADING for s in main.sources.values())


async def test_jobs_report_progress_end_and_cancel(app_factory: AppFactory) -> None:
    captured: list[Message] = []
    app = app_factory([str(fixture_dir("buildkit", "local-min"))])
    gate = asyncio.Event()

    async def quick(sink: ProgressSink, token: CancelToken) -> str:
        for done in range(0, 101, 10):
            sink(Progress("copy", done, 100))
        return "ok"

    async def slow(sink: ProgressSink, token: CancelToken) -> None:
        sink(Progress("copy", 1, 100))
        await gate.wait()

    async with app.run_test(size=SIZE, message_hook=captured.append) as pilot:
        await settle(pilot)
        job = app.start_job("Copy demo", quick, refresh=(str(fixture_dir("buildkit", "local-min")),))
        await settle(pilot)
        assert job.state is JobState.DONE and job.result == "ok"
        assert job.progress is not None and job.progress.done == 100
        assert [m.state for m in captured if isinstance(m, JobEnded)] == ["done", "done"]
        lines = list(main_screen(app).query(JobLine))
        assert len(lines) == 1 and lines[0].job is job
        slow_job = app.start_job("Slow", slow)
        await pilot.pause()
        await pilot.press("x")
        await settle(pilot)
        assert slow_job.state is JobState.CANCELLED and slow_job.token.cancelled


async def test_read_only_hides_destructive_extension_keys(app_factory: AppFactory) -> None:
    calls: list[str] = []
    extensions.register_action(extensions.ScreenAction(
        "test.delete", "main", "Delete tag", lambda screen: calls.append("d"), key="f9",
        destructive=True))
    try:
        for read_only in (False, True):
            app = app_factory(read_only=read_only)
            async with app.run_test(size=SIZE) as pilot:
                await settle(pilot)
                main = main_screen(app)
                keys = {b.binding.description for b in main.active_bindings.values()}
                titles = {c.title for c in main.palette_commands()}
                assert ("Delete tag" in keys) is not read_only
                assert ("Delete tag" in titles) is not read_only
                await pilot.press("f9")
        assert calls == ["d"]
    finally:
        extensions.unregister_action("test.delete")

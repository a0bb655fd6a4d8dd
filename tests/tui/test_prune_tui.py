"""Pilot tests of pruning from the TUI: `d`, the plan modal, typed confirmation, the job, read-only."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from textual.widgets import Button, Checkbox, Input

from cachetui.oci.reference import parse_reference
from cachetui.store.layout import LayoutStore
from cachetui.store.registry import RegistrySession
from cachetui.tui.app import CachetuiApp
from cachetui.tui.jobs import JobState
from cachetui.tui.modals.prune_plan import PrunePlanModal, freed_estimate, plan_body
from cachetui.tui.screens.main import MainScreen
from cachetui.tui.widgets.cache_table import CacheTable
from tests.fixtures import fixture_dir
from tests.prune_support import blob_digests, cache_manifest, copy_fixture, reachable_ok, write_index
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, push_layout, unique_repo
from tests.tui.conftest import finish_jobs, settle

AppFactory = Callable[..., CachetuiApp]
SIZE = (120, 36)


def main_screen(app: CachetuiApp) -> MainScreen:
    screen = app.screen_stack[1]
    assert isinstance(screen, MainScreen)
    return screen


def move_to(main: MainScreen, tag: str) -> None:
    table = main.query_one(CacheTable)
    for index in range(table.row_count):
        table.move_cursor(row=index)
        current = table.current()
        if current is not None and current.entry.tag == tag:
            return
    raise AssertionError(f"no row {tag}")


async def test_d_shows_the_plan_with_focus_on_cancel_and_escape_deletes_nothing(
        app_factory: AppFactory, tmp_path: Path) -> None:
    multi = copy_fixture("local-multi-tag", tmp_path / "multi")
    app = app_factory([str(multi)])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        move_to(main_screen(app), "main")
        await pilot.press("d")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, PrunePlanModal)
        assert app.focused is modal.query_one("#prune-cancel", Button)
        assert [i.tag for s in modal.plan.sources for i in s.items] == ["main"]
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(plan_body(modal.plan))
        body = console.export_text()
        assert "main" in body and "named" in body and "frees" in body
        assert not modal.query_one("#prune-typed", Input).display
        await pilot.press("enter")  # on Cancel
        await settle(pilot)
        assert not isinstance(app.screen, PrunePlanModal)
        assert app.jobs == {}
    assert len(blob_digests(multi)) == 8


async def test_marked_rows_are_pruned_by_a_job_and_the_table_refreshes(
        app_factory: AppFactory, tmp_path: Path) -> None:
    multi = copy_fixture("local-multi-tag", tmp_path / "multi")  # blobs aged past the grace period
    app = app_factory([str(multi)])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        move_to(main, "main")
        await pilot.press("space")
        assert len(main.marks.keys) == 1
        await pilot.press("d")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, PrunePlanModal)
        # The footer's estimate for the marked rows agrees with the plan.
        assert freed_estimate(main.marked_rows(), main.rows.values()) == modal.plan.total_bytes > 0
        apply = modal.query_one("#prune-apply", Button)
        assert not apply.disabled and str(apply.label) == "Delete 1"
        apply.focus()
        await pilot.press("enter")
        await finish_jobs(pilot)
        [job] = app.jobs.values()
        assert job.state is JobState.DONE, job.error
        assert job.title == "prune 1 cache"
        assert [row.entry.tag for row in main.rows.values()] == ["feature-x"]
        assert main.marks.keys == []
    assert await LayoutStore(multi).list_tags() == ["feature-x"]
    assert reachable_ok(multi) == [] and len(blob_digests(multi)) == 5


async def test_more_than_ten_items_need_the_confirmation_typed(
        app_factory: AppFactory, tmp_path: Path) -> None:
    root = tmp_path / "many"
    now = datetime.now(UTC)
    write_index(root, {f"t{i:02d}": cache_manifest(root, [f"l{i}".encode()], now - timedelta(days=i),
                                                   salt=str(i)) for i in range(12)})
    app = app_factory([str(root)])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        main.query_one(CacheTable).move_cursor(row=0)
        for _ in range(12):
            await pilot.press("space")
        assert len(main.marks.keys) == 12
        await pilot.press("d")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, PrunePlanModal)
        typed = modal.query_one("#prune-typed", Input)
        apply = modal.query_one("#prune-apply", Button)
        assert typed.display and apply.disabled
        typed.value = "delete 11"
        await pilot.pause()
        assert apply.disabled
        typed.value = "delete 12"
        await pilot.pause()
        assert not apply.disabled
        assert app.focused is not apply
        await pilot.press("escape")
        await settle(pilot)
    assert len(await LayoutStore(root).list_tags()) == 12


async def test_read_only_hides_the_prune_key(app_factory: AppFactory, tmp_path: Path) -> None:
    multi = copy_fixture("local-multi-tag", tmp_path / "multi")
    app = app_factory([str(multi)], read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        assert main.check_action("ext", ("prune.plan",)) is False
        assert "prune" not in {c.title.lower() for c in main.palette_commands()}
        await pilot.press("d")
        await settle(pilot)
        assert not isinstance(app.screen, PrunePlanModal)
    assert len(blob_digests(multi)) == 8


async def test_registry_collateral_needs_the_box_ticked(app_factory: AppFactory,
                                                        registry: RunningRegistry) -> None:
    location = f"{registry.host}/{unique_repo('tui-prune')}"
    async with RegistrySession(fast_settings()) as session:
        store = session.repository(parse_reference(location, default_tag=False))
        multi = fixture_dir("buildkit", "local-multi-tag")
        await push_layout(store, multi, "cache-a", "main")
        await push_layout(store, multi, "cache-a-alias", "main")
        await push_layout(store, multi, "other", "feature-x")
    app = app_factory([location])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        move_to(main_screen(app), "cache-a")
        await pilot.press("d")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, PrunePlanModal)
        [item] = modal.plan.sources[0].items
        assert item.collateral == ("cache-a-alias",) and item.blocked is not None
        assert modal.query_one("#prune-apply", Button).disabled
        modal.query_one("#prune-shared", Checkbox).value = True
        await settle(pilot)
        [item] = modal.plan.sources[0].items
        assert item.blocked is None
        apply = modal.query_one("#prune-apply", Button)
        assert not apply.disabled
        apply.press()
        await finish_jobs(pilot)
        [job] = app.jobs.values()
        assert job.state is JobState.DONE, job.error
        assert sorted(row.entry.tag for row in main_screen(app).rows.values()) == ["other"]

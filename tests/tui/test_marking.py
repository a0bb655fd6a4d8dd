"""Pilot tests of marking: space, shift+arrows, ctrl+a, ctrl+\\, the freed-bytes status, and
per-source read-only (config sources, registry hosts) hiding prune where it may not run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cachetui.config import Config, RegistryConfig, SourceConfig
from cachetui.locations import Workspace, parse_location
from cachetui.tui.app import CachetuiApp, make_app
from cachetui.tui.modals.prune_plan import PrunePlanModal, freed_estimate
from cachetui.tui.model import size
from cachetui.tui.screens.main import MainScreen
from cachetui.tui.widgets.cache_table import CacheTable
from tests.tui.conftest import clock, settle

AppFactory = Callable[..., CachetuiApp]
SIZE = (120, 36)


def main_screen(app: CachetuiApp) -> MainScreen:
    screen = app.screen_stack[1]
    assert isinstance(screen, MainScreen)
    return screen


def status(main: MainScreen) -> str:
    return str(main.query_one("#status").render())


def footer_keys(main: MainScreen) -> set[str]:
    """Descriptions of the bindings shown now (hidden actions are not active bindings)."""
    return {binding.binding.description for binding in main.active_bindings.values()}


def move_to(main: MainScreen, source_name: str) -> None:
    table = main.query_one(CacheTable)
    for index, row in enumerate(table.rows_shown):
        if row.entry.source.rstrip("/").endswith(source_name) and row.entry.analysis:
            table.move_cursor(row=index)
            return
    raise AssertionError(f"no row from {source_name}")


async def test_shift_arrows_extend_ctrl_a_marks_the_filtered_and_ctrl_backslash_clears(
        app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        table = main.query_one(CacheTable)
        shown = [row.key for row in table.rows_shown]
        await pilot.press("space")  # marks row 0, the cursor moves to row 1
        await pilot.press("shift+down", "shift+down")
        assert main.marks.keys == shown[:4] and table.cursor_row == 3
        await pilot.press("shift+up")  # already marked rows stay marked
        assert main.marks.keys == shown[:4] and table.cursor_row == 2
        await pilot.press("ctrl+backslash")
        assert main.marks.keys == []
        assert "marked" not in status(main)

        await pilot.press("slash", *"ci-runner", "enter")
        await settle(pilot)
        filtered = [row.key for row in table.rows_shown]
        assert 0 < len(filtered) < len(shown)
        await pilot.press("ctrl+a")
        assert sorted(main.marks.keys) == sorted(filtered)
        await pilot.press("escape")  # clearing the filter keeps the marks
        await settle(pilot)
        assert sorted(main.marks.keys) == sorted(filtered)
        assert f"{len(filtered)} marked" in status(main)

        await pilot.press("ctrl+a")  # everything shown, but not the broken source's own row
        assert len(main.marks.keys) == len([r for r in table.rows_shown
                                            if r.entry.tag != "(source)"])
        await pilot.press("ctrl+backslash")
        assert main.marks.keys == []


async def test_status_shows_the_marked_count_size_and_the_bytes_a_prune_frees(
        app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        await pilot.press("slash", *"ci-runner", "enter")
        await settle(pilot)
        table = main.query_one(CacheTable)
        await pilot.press("g", "space", "space")
        marked = main.marked_rows()
        assert len(marked) == 2
        freed = freed_estimate(marked, main.rows.values())
        total = sum(row.size for row in marked)
        assert f"2 marked, {size(total)}, frees up to {size(freed)}" in status(main)
        # Every tag of the directory marked: its blobs are all freed (none kept by another tag).
        await pilot.press("ctrl+a")
        everything = sum(size_ for size_ in _unique_blobs(table).values())
        assert f"frees up to {size(everything)}" in status(main)


def _unique_blobs(table: CacheTable) -> dict[str, int]:
    blobs: dict[str, int] = {}
    for row in table.rows_shown:
        analysis = row.entry.analysis
        if analysis is None:
            continue
        doc = analysis.document
        blobs[doc.top.digest] = len(doc.top.raw)
        if doc.config_descriptor is not None:
            blobs[doc.config_descriptor.digest] = doc.config_descriptor.size
        for layer in analysis.layers:
            blobs[layer.digest] = layer.size
    return blobs


def _read_only_app(demo_dirs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   ) -> CachetuiApp:
    """app-min from the command line; app-max from the config file, read-only."""
    monkeypatch.setenv("CACHETUI_CONFIG", str(tmp_path / "no-config.toml"))
    by_name = {p.name: str(p) for p in demo_dirs}
    config = Config(sources=[SourceConfig(by_name["app-max"], read_only=True)])
    return make_app([by_name["app-min"]], config=config, clock=clock)


async def test_read_only_source_hides_prune_where_every_candidate_is_read_only(
        demo_dirs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _read_only_app(demo_dirs, tmp_path, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        move_to(main, "app-max")
        await pilot.pause()
        assert main.check_action("ext", ("prune.plan",)) is False
        assert "Prune" not in footer_keys(main)
        assert "Prune" not in {c.title for c in main.palette_commands()}
        assert "read-only source" in status(main)
        assert "Copy" in footer_keys(main)  # copying from it writes elsewhere: still offered
        await pilot.press("d")
        await settle(pilot)
        assert not isinstance(app.screen, PrunePlanModal)

        move_to(main, "app-min")
        await pilot.pause()
        assert main.check_action("ext", ("prune.plan",)) is True
        assert "Prune" in footer_keys(main)

        # Marked rows decide: one writable among them shows prune; the plan leaves the other out.
        await pilot.press("space")
        move_to(main, "app-max")
        await pilot.press("space")
        await pilot.pause()
        assert "(1 read-only)" in status(main)
        assert main.check_action("ext", ("prune.plan",)) is True
        await pilot.press("d")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, PrunePlanModal)
        assert [s.location.rstrip("/").rsplit("/", 1)[-1] for s in modal.plan.sources] == \
            ["app-min"]
        await pilot.press("escape")
        await settle(pilot)

        # Only the read-only row marked: hidden again, whatever the cursor is on.
        main.clear_marks()
        move_to(main, "app-max")
        await pilot.press("space")
        move_to(main, "app-min")
        await pilot.pause()
        assert main.check_action("ext", ("prune.plan",)) is False


def test_registry_hosts_marked_read_only_in_the_config_are_read_only() -> None:
    config = Config(registries={"registry.internal:5000": RegistryConfig(read_only=True)})
    workspace = Workspace(config)
    assert workspace.is_read_only(parse_location("registry.internal:5000/app"))
    assert workspace.is_read_only(parse_location("registry.internal:5000"))
    assert not workspace.is_read_only(parse_location("registry.other:5000/app"))

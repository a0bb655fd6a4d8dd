"""Warm start (issue 13 item 3): the TUI paints the last known inventory of a registry at once from
the on-disk cache, marks the source as refreshing, then replaces it with the fresh listing (a tag
deleted since disappears); with the registry gone, the known rows stay, marked as cached."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachetui.oci.digest import Digest
from cachetui.tui.app import make_app
from cachetui.tui.model import SourceStatus
from cachetui.tui.screens.main import MainScreen
from tests.fixtures import fixture_dir
from tests.registry_procs import start_registry
from tests.registry_server import fast_settings, push_layout
from tests.tui.conftest import clock, settle

pytestmark = pytest.mark.registry


def main_screen(app: object) -> MainScreen:
    screen = app.screen_stack[1]  # type: ignore[attr-defined]
    assert isinstance(screen, MainScreen)
    return screen


async def test_last_known_inventory_paints_first_then_refreshes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cachetui.store.registry import RegistrySession

    monkeypatch.setenv("CACHETUI_CONFIG", str(tmp_path / "no-config.toml"))
    running = start_registry(tmp_path / "registry")
    try:
        source = f"{running.host}/warm/app"
        async with RegistrySession(fast_settings()) as session:
            store = session.store(running.host, "warm/app")
            for tag in ("one", "two"):
                await push_layout(store, fixture_dir("buildkit-registry", "app-buildcache-max"),
                                  tag, "buildcache-max")
            await push_layout(store, fixture_dir("buildkit-registry", "app-inline"), "three",
                              "inline")
            three = (await store.resolve("three")).digest
        app = make_app([source], clock=clock, use_config_sources=False)
        async with app.run_test(size=(120, 36)) as pilot:  # the first look fills the disk cache
            await settle(pilot)
            assert {row.name for row in main_screen(app).rows.values()} == {"one", "two", "three"}
        async with RegistrySession(fast_settings()) as session:
            await session.store(running.host, "warm/app").delete_manifest(Digest(three))

        seen_first: list[tuple[set[str], str]] = []
        app = make_app([source], clock=clock, use_config_sources=False)
        async with app.run_test(size=(120, 36)) as pilot:
            while len(app.screen_stack) < 2 or not main_screen(app).rows:
                await pilot.pause(0.005)
            main = main_screen(app)
            [state] = [s for s in main.sources.values() if s.id == source]
            seen_first.append(({r.name for r in main.rows.values()}, state.progress_text))
            await settle(pilot)
            fresh = {row.name: row.entry.cached for row in main.rows.values()}
            assert state.status is SourceStatus.DONE and not state.refreshing
        names, progress = seen_first[0]
        assert names == {"one", "two", "three"}  # painted before any answer: the last inventory
        assert progress.startswith("refreshing")
        assert fresh == {"one": False, "two": False}  # confirmed; the deleted tag is gone
    finally:
        running.stop()

    # The registry is gone: the last known rows stay (marked cached) beside the failure.
    app = make_app([source], clock=clock, use_config_sources=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        rows = main_screen(app).rows.values()
        assert {row.name for row in rows if row.entry.cached} == {"one", "two"}

"""Warm start (issue 13 item 3): the TUI paints the last known inventory of a registry at once from
the on-disk cache, marks the source as refreshing, then replaces it with the fresh listing (a tag
deleted since disappears); with the registry gone, the known rows stay, marked as cached."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cachetui.oci.digest import Digest
from cachetui.ops.inventory import ScanEvent, ScanKnown
from cachetui.tui import scanning
from cachetui.tui.app import make_app
from cachetui.tui.model import SourceState, SourceStatus
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
            rows = main_screen(app).rows.values()
            assert {row.name: row.entry.error for row in rows} == dict.fromkeys(
                ("one", "two", "three"))
        async with RegistrySession(fast_settings()) as session:
            await session.store(running.host, "warm/app").delete_manifest(Digest(three))

        events: list[object] = []
        real_scan = scanning.scan_store  # type: ignore[attr-defined]

        async def recording(*args: Any, **kwargs: Any) -> AsyncIterator[ScanEvent]:
            async for event in real_scan(*args, **kwargs):
                events.append(event)
                yield event

        monkeypatch.setattr(scanning, "scan_store", recording)
        app = make_app([source], clock=clock, use_config_sources=False)
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            main = main_screen(app)
            [state] = [s for s in main.sources.values() if s.id == source]
            fresh = {row.name: row.entry.cached for row in main.rows.values()}
            assert state.status is SourceStatus.DONE and not state.refreshing
        # Before any answer, the last known inventory: every tag of the first look, from disk.
        first = events[0]
        assert isinstance(first, ScanKnown)
        assert {entry.tag for entry in first.entries} == {"one", "two", "three"}
        assert all(entry.cached and entry.analysis is not None for entry in first.entries)
        assert fresh == {"one": False, "two": False}  # confirmed; the deleted tag is gone
        marked = SourceState(source, source, "registry", status=SourceStatus.LOADING,
                             refreshing=True, total=3, done=1)
        assert marked.progress_text == "refreshing 1 of 3"
    finally:
        running.stop()

    # The registry is gone: the last known rows stay (marked cached) beside the failure.
    app = make_app([source], clock=clock, use_config_sources=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        rows = main_screen(app).rows.values()
        assert {row.name for row in rows if row.entry.cached} == {"one", "two"}

"""SVG snapshots at 120x36 of every main view, on the demo set with a fixed clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from cachetui.tui.app import CachetuiApp
from tests.tui.conftest import settle

AppFactory = Callable[..., CachetuiApp]
SnapCompare = Callable[..., bool]
SIZE = (120, 36)


def keys(*pressed: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in pressed:
            await pilot.press(key)
            await settle(pilot)

    return run


def test_main_screen(snap_compare: SnapCompare, app_factory: AppFactory) -> None:
    assert snap_compare(app_factory(), terminal_size=SIZE, run_before=keys())


def test_cache_summary(snap_compare: SnapCompare, app_factory: AppFactory) -> None:
    assert snap_compare(app_factory(), terminal_size=SIZE, run_before=keys("enter"))


def test_cache_layers(snap_compare: SnapCompare, app_factory: AppFactory) -> None:
    assert snap_compare(app_factory(), terminal_size=SIZE, run_before=keys("enter", "2"))


def test_cache_records(snap_compare: SnapCompare, app_factory: AppFactory) -> None:
    assert snap_compare(app_factory(), terminal_size=SIZE, run_before=keys("enter", "3", "enter"))


def test_cache_manifest(snap_compare: SnapCompare, app_factory: AppFactory) -> None:
    assert snap_compare(app_factory(), terminal_size=SIZE, run_before=keys("enter", "4"))


def test_cache_config(snap_compare: SnapCompare, app_factory: AppFactory) -> None:
    assert snap_compare(app_factory(), terminal_size=SIZE, run_before=keys("enter", "5"))


def test_compare(snap_compare: SnapCompare, app_factory: AppFactory) -> None:
    assert snap_compare(app_factory(), terminal_size=SIZE,
                        run_before=keys("space", "down", "down", "space", "equals_sign"))


def test_help(snap_compare: SnapCompare, app_factory: AppFactory) -> None:
    assert snap_compare(app_factory(), terminal_size=SIZE, run_before=keys("question_mark"))


def test_error_state(snap_compare: SnapCompare, app_factory: AppFactory,
                     demo_dirs: list[Path]) -> None:
    prefix = demo_dirs[0].parent.name
    app = app_factory(["./nonexistent/cache", f"./{prefix}/broken", f"./{prefix}/app-min"])
    assert snap_compare(app, terminal_size=SIZE, run_before=keys("G"))


def test_main_screen_80x24(snap_compare: SnapCompare, app_factory: AppFactory) -> None:
    """Narrow: the least useful columns hide, names are cut with an ellipsis, `? Help` shows."""
    assert snap_compare(app_factory(), terminal_size=(80, 24), run_before=keys())


def test_main_screen_140x40(snap_compare: SnapCompare, app_factory: AppFactory) -> None:
    """Wide: every column, names whole."""
    assert snap_compare(app_factory(), terminal_size=(140, 40), run_before=keys())


def test_help_80x24(snap_compare: SnapCompare, app_factory: AppFactory) -> None:
    assert snap_compare(app_factory(), terminal_size=(80, 24), run_before=keys("question_mark"))

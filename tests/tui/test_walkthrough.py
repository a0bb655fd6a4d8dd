"""What a new user meets walking through the demo at 80x24 and 140x40 (issue 14, "done when"):
every key answers (a dimmed key says why instead of doing nothing), focus is always visible, an
empty optional field is not drawn as an error, and a shortened digest says it is shortened."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from cachetui.tui.app import CachetuiApp
from cachetui.tui.modals.reexport_dialog import ReexportDialog
from cachetui.tui.screens.cache import CacheScreen
from cachetui.tui.screens.main import MainScreen
from cachetui.tui.widgets.cache_table import CacheTable
from cachetui.tui.widgets.sources_tree import SourcesTree
from tests.tui.conftest import settle

AppFactory = Callable[..., CachetuiApp]
SIZES = [(80, 24), (140, 40)]


def record_notes(app: CachetuiApp) -> list[tuple[str, str]]:
    """(title, message) of every notification from now on (screens notify through the app)."""
    said: list[tuple[str, str]] = []
    real = app.notify

    def notify(message: str, *, title: str = "", **kwargs: object) -> None:
        said.append((title, message))
        real(message, title=title, **kwargs)  # type: ignore[arg-type]

    app.notify = notify  # type: ignore[method-assign]
    return said


def main_of(app: CachetuiApp) -> MainScreen:
    screen = app.screen_stack[1]
    assert isinstance(screen, MainScreen)
    return screen


async def press(pilot: Pilot[None], *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


@pytest.mark.parametrize("size", SIZES)
async def test_a_dimmed_key_says_why_instead_of_doing_nothing(
        app_factory: AppFactory, size: tuple[int, int]) -> None:
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        said = record_notes(app)
        await press(pilot, "equals_sign")  # compare with nothing marked
        assert said == [("Compare", "mark two caches with space, then press =")]
        await press(pilot, "x")  # no job running
        assert said[-1] == ("Cancel job", "no job is running")
        # The failed source's row: nothing to copy, re-export or prune there.
        main = main_of(app)
        table = main.query_one(CacheTable)
        failed = [i for i, row in enumerate(table.rows_shown) if row.entry.analysis is None]
        assert failed
        table.move_cursor(row=failed[0])
        await settle(pilot)
        for key, title in (("c", "Copy"), ("r", "Re-export"), ("d", "Prune")):
            before = len(said)
            await press(pilot, key)
            assert app.screen is main, f"{key} opened {app.screen!r} on a failed row"
            assert len(said) == before + 1 and said[-1][0] == title, (key, said[before:])
            assert said[-1][1].startswith("move to a cache")


@pytest.mark.parametrize("size", SIZES)
async def test_tab_into_the_sources_panel_shows_a_cursor(
        app_factory: AppFactory, size: tuple[int, int]) -> None:
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await press(pilot, "tab")
        tree = app.focused
        assert isinstance(tree, SourcesTree)
        assert tree.cursor_line == 0 and tree.cursor_node is not None


@pytest.mark.parametrize("size", SIZES)
async def test_an_empty_level_is_not_drawn_as_an_error_after_tab_passes_it(
        app_factory: AppFactory, size: tuple[int, int]) -> None:
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await press(pilot, "r")
        assert isinstance(app.screen, ReexportDialog)
        level = app.screen.query_one("#reexport-level", Input)
        level.focus()
        await settle(pilot)
        await press(pilot, "tab")
        assert app.focused is not level
        assert not level.has_class("-invalid")


@pytest.mark.parametrize("size", SIZES)
async def test_measure_and_copy_on_the_summary_tab_answer(
        app_factory: AppFactory, size: tuple[int, int]) -> None:
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, CacheScreen)
        said = record_notes(app)
        await press(pilot, "u")
        assert said and "see 2 Layers" in said[-1][1]
        await press(pilot, "u")
        assert len(said) == 2 and "already" in said[-1][1]
        await press(pilot, "y")
        # A shortened digest says so (it was cut mid-digest with no ellipsis).
        assert said[-1][1].startswith("Copied ") and "…" in said[-1][1]


WALK = [(), ("enter",), ("enter", "2"), ("enter", "3"), ("enter", "4"), ("enter", "5"),
        ("enter", "2", "s"), ("question_mark",), ("w",), ("i",), ("r",), ("d",), ("c",),
        ("space", "space", "equals_sign"), ("tab",)]
"""Key sequences reaching every screen and modal of the demo."""


@pytest.mark.parametrize("size", SIZES)
async def test_every_glyph_the_demo_draws_has_an_ascii_look_alike(
        app_factory: AppFactory, size: tuple[int, int]) -> None:
    """With an ASCII-only output encoding each glyph must map to a look-alike: the cache screen's
    tab underline ('╸', '╺') printed '?' ("?-------?---")."""
    from cachetui.tui.ascii_output import GLYPHS

    missing: dict[str, tuple[str, ...]] = {}
    for keys in WALK:
        app = app_factory()
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await press(pilot, *keys)
            svg = app.export_screenshot()
        for char in set(svg):
            if not char.isascii() and char not in GLYPHS:
                missing.setdefault(char, keys)
    assert missing == {}


@pytest.mark.parametrize("size", SIZES)
async def test_a_job_title_shows_whole_or_ends_with_an_ellipsis(
        app_factory: AppFactory, size: tuple[int, int]) -> None:
    """A copy's title 'copy buildcache → /tmp/walk/dest140' showed 'copy buildcache →' with the
    destination wrapped out of its one-row line, even at 140 columns."""
    import asyncio

    from textual.geometry import Region
    from textual.widgets import Label

    from cachetui.ops.progress import Progress
    from tests.tui.test_copy_tui import paused_run

    app = app_factory()
    title = "copy buildcache → ./a-rather-long/destination:buildcache"
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        started, release = asyncio.Event(), asyncio.Event()
        app.start_job(title, paused_run(started, release, Progress("layers", 3, 10)))
        await started.wait()
        await pilot.pause()
        label = app.screen.query_one(".job-title", Label)
        shown = "".join(strip.text for strip in label.render_lines(
            Region(0, 0, label.size.width, label.size.height))).rstrip()
        assert shown == title or (shown.endswith("…") and title.startswith(shown[:-1])), shown
        if size[0] >= 140:
            assert shown == title  # room enough: nothing cut
        release.set()
        await settle(pilot)


@pytest.mark.parametrize("size", SIZES)
async def test_copy_in_the_source_view_without_an_orphan_says_so(
        app_factory: AppFactory, size: tuple[int, int]) -> None:
    from cachetui.tui.screens.source import SourceScreen

    app = app_factory()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await press(pilot, "i")  # the first row's source: the demo's app-max has no orphan
        assert isinstance(app.screen, SourceScreen)
        assert app.screen.findings is not None and app.screen.findings.orphans == []
        said = record_notes(app)
        await press(pilot, "y")
        assert said == [("", "no orphaned blob here to copy")]


@pytest.mark.parametrize("size", SIZES)
async def test_the_compare_summary_keeps_its_row_names(
        app_factory: AppFactory, demo_dirs: list[Path], size: tuple[int, int]) -> None:
    """At 80 columns the two long references (absolute paths, as `cachetui demo` shows them)
    squeezed the names column (Layers, Shared...) to nothing: only figures were left."""
    from textual.geometry import Region
    from textual.widgets import Static

    from cachetui.tui.screens.compare import CompareScreen

    app = app_factory([str(path.resolve()) for path in demo_dirs])
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await press(pilot, "space", "space", "equals_sign")
        assert isinstance(app.screen, CompareScreen)
        summary = app.screen.query_one("#compare-summary", Static)
        lines = [strip.text for strip in summary.render_lines(
            Region(0, 0, summary.size.width, summary.size.height))]
        for name in ("Layers", "Shared", "Unique", "Records", "In common"):
            assert any(line.strip().startswith(name) for line in lines), (name, lines)

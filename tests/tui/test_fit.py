"""Every control fits the terminal at 80x24 and 140x40: dialogs, buttons, focus moves (issue 14).

Each test drives the real app headless (Pilot) at both sizes and checks the geometry Textual laid
out: a control outside its dialog or cut by the screen edge is one the user cannot see.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Select

from cachetui.tui.app import CachetuiApp
from cachetui.tui.modals.prune_plan import PrunePlanModal
from cachetui.tui.modals.reexport_dialog import ReexportDialog
from cachetui.tui.widgets.cache_table import CacheTable
from cachetui.tui.widgets.sources_tree import SourcesTree
from tests.prune_support import cache_manifest, write_index
from tests.tui.conftest import settle

AppFactory = Callable[..., CachetuiApp]
SIZES = [(80, 24), (140, 40)]


def assert_controls_whole(app: CachetuiApp) -> None:
    """Every control of the top screen lies inside the screen and its dialog, with room for its
    label (a 3-row button squeezed to one row shows no label)."""
    screen = app.screen
    bounds = Region(0, 0, *app.size)
    dialogs = list(screen.query(".dialog"))
    inside = dialogs[0].region if dialogs else bounds
    controls: list[Widget] = [*screen.query(Button), *screen.query(Checkbox),
                              *screen.query(Select), *screen.query(Input)]
    assert controls
    for control in controls:
        if not control.display or not control.parent or not control.parent.display:
            continue
        region = control.region
        name = f"{type(control).__name__}#{control.id}"
        assert region.area > 0, f"{name} has no room"
        assert bounds.contains_region(region), f"{name} {region} is off the screen {bounds}"
        assert inside.contains_region(region), f"{name} {region} is outside its dialog {inside}"
        if isinstance(control, Button):
            label = str(control.label)
            content = control.content_region
            assert content.height >= 1 and content.width >= len(label), (
                f"{name} cannot show {label!r} in {content}")


@pytest.mark.parametrize("size", SIZES)
async def test_tab_moves_focus_between_panes(app_factory: AppFactory,
                                             size: tuple[int, int]) -> None:
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert isinstance(app.focused, CacheTable)
        await pilot.press("tab")
        assert not isinstance(app.focused, CacheTable)
        await pilot.press("shift+tab")
        assert isinstance(app.focused, CacheTable)


@pytest.mark.parametrize("size", SIZES)
async def test_reexport_dialog_shows_every_option(app_factory: AppFactory, demo_dirs: list[Path],
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  size: tuple[int, int]) -> None:
    shutil.copytree(demo_dirs[0], tmp_path / "app-max")
    app = app_factory(["./app-max"])
    monkeypatch.chdir(tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ReexportDialog)
        assert_controls_whole(app)


def many_tags(root: Path, count: int) -> Path:
    """A directory with ``count`` tags, each its own small cache."""
    created = datetime(2026, 1, 1, tzinfo=UTC)
    tags = {f"pr-{n:04d}": cache_manifest(root, [f"layer {n}".encode()], created, salt=str(n))
            for n in range(count)}
    write_index(root, tags)
    return root


@pytest.mark.parametrize("size", SIZES)
async def test_prune_plan_of_300_tags_keeps_its_buttons(app_factory: AppFactory, tmp_path: Path,
                                                        size: tuple[int, int]) -> None:
    app = app_factory([str(many_tags(tmp_path / "many", 300))])
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+a", "d")
        await settle(pilot)
        assert isinstance(app.screen, PrunePlanModal)
        assert app.screen.plan.item_count == 300
        assert_controls_whole(app)
        assert str(app.screen.query_one("#prune-apply", Button).label) == "Delete 300"


@pytest.mark.parametrize("size", SIZES)
async def test_sources_tree_is_reachable_by_tab(app_factory: AppFactory,
                                                size: tuple[int, int]) -> None:
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for _ in range(3):
            await pilot.press("tab")
            if isinstance(app.focused, SourcesTree):
                break
        assert isinstance(app.focused, SourcesTree)


@pytest.mark.parametrize("size", SIZES)
async def test_columns_fit_the_terminal_and_help_stays_in_the_footer(
        app_factory: AppFactory, size: tuple[int, int]) -> None:
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        table = app.screen.query_one(CacheTable)
        shown = table.shown_columns()
        assert {"Ref", "Where", "Size", "Min", "+Max", "Newest"} <= set(shown)
        used = sum(width + 2 for _, width in table.layout_now)
        assert used <= table.size.width
        if size[0] >= 140:
            assert len(shown) == 10
            # names show whole while room is left
            for row in table.rows_shown:
                label = app.screen.sources[row.source_id].label  # type: ignore[attr-defined]
                cells = [str(c) for c in table.get_row(row.key)]
                assert cells[0].strip().endswith(row.entry.tag) and "…" not in cells[0]
                assert cells[1] == label
        footer = app.screen.query_one("FittingFooter")
        texts = [str(key.render()) for key in footer.query("FooterKey")]
        assert any("Help" in text for text in texts)
        assert sum(key.outer_size.width for key in footer.query("FooterKey")) <= size[0]


async def test_plain_images_show_no_min_figures(app_factory: AppFactory, tmp_path: Path) -> None:
    from tests.test_plain_images import mixed_dir

    app = app_factory([str(mixed_dir(tmp_path / "dir"))])
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(CacheTable)
        cells = {row.entry.tag: [str(c) for c in table.get_row(row.key)]
                 for row in table.rows_shown}
        titles = table.shown_columns()
        image, cache = cells["app"], cells["cache"]
        for title in ("Min", "+Max"):
            assert image[titles.index(title)] == "-"
            assert cache[titles.index(title)] != "-"

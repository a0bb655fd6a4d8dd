"""The layers table sizes its columns to their content and the terminal (issue 14 found 5, for
the layers view): at 80 columns Steps used to be cut; now the least useful columns hide first
and every shown column shows its content whole."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cachetui.tui.app import CachetuiApp
from cachetui.tui.screens.cache import CacheScreen
from cachetui.tui.widgets.column_fit import CELL_PADDING
from cachetui.tui.widgets.layers_table import COLUMNS, LayersTable
from tests.tui.conftest import settle
from tests.tui.test_snapshots import keys

AppFactory = Callable[..., CachetuiApp]
SnapCompare = Callable[..., bool]


def shown_whole(table: LayersTable) -> None:
    """Every shown cell fits its column; the columns fit the table."""
    widths = dict(table.layout_now)
    for row_key in table.rows:
        for index, width in widths.items():
            cell = table.get_cell(row_key, COLUMNS[index][1])
            text = cell if isinstance(cell, str) else cell.plain
            assert "…" not in text or text == "…", (COLUMNS[index][0], text)
            assert len(text) <= width, (COLUMNS[index][0], text, width)
    used = sum(width + CELL_PADDING for width in widths.values())
    assert used <= table.size.width, (used, table.size.width)


@pytest.mark.parametrize(("size", "hidden"), [((80, 24), {"Comp"}),
                                               ((140, 40), set())])
async def test_layers_columns_fit_the_terminal_least_useful_hiding_first(
        app_factory: AppFactory, size: tuple[int, int], hidden: set[str]) -> None:
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, CacheScreen)
        table = app.screen.query_one(LayersTable)
        shown = table.shown_columns()
        assert {title for title, _, _ in COLUMNS} - set(shown) == hidden
        assert "Steps" in shown and "Digest" in shown and "Size" in shown
        shown_whole(table)


async def test_layers_columns_follow_a_resize(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "2")
        await settle(pilot)
        assert isinstance(app.screen, CacheScreen)
        table = app.screen.query_one(LayersTable)
        table.move_cursor(row=2)
        assert len(table.shown_columns()) == len(COLUMNS)
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert "Comp" not in table.shown_columns() and "Steps" in table.shown_columns()
        assert table.row_count == len(table.cache_layers) and table.cursor_row == 2
        shown_whole(table)


def test_cache_layers_80x24(snap_compare: SnapCompare, app_factory: AppFactory) -> None:
    assert snap_compare(app_factory(), terminal_size=(80, 24), run_before=keys("enter", "2"))


def test_cache_layers_140x40(snap_compare: SnapCompare, app_factory: AppFactory) -> None:
    assert snap_compare(app_factory(), terminal_size=(140, 40), run_before=keys("enter", "2"))

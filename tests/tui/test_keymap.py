"""Every binding has an id and a description; help is ordered by what a user does and lists `x`;
the config's [keymap] remaps keys (issue 14 found 13)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.binding import Binding

from cachetui.config import parse_config
from cachetui.tui import keymap
from cachetui.tui.app import CachetuiApp
from cachetui.tui.screens.help import HelpScreen
from tests.tui.conftest import settle

AppFactory = Callable[..., CachetuiApp]


def all_binding_classes() -> list[type]:
    from cachetui.tui import extensions

    extensions.load_extensions()  # in the app's order: the footer's order follows it
    from cachetui.tui.modals import (
        confirm,
        copy_dialog,
        open_source,
        prune_plan,
        reexport_dialog,
        shares,
    )
    from cachetui.tui.screens import cache, compare, help, main, space
    from cachetui.tui.widgets import (
        cache_table,
        layers_table,
        raw_view,
        records_tree,
        sources_tree,
    )
    return [CachetuiApp, main.MainScreen, cache.CacheScreen, compare.CompareScreen,
            help.HelpScreen, cache_table.CacheTable, layers_table.LayersTable,
            raw_view.RawView, records_tree.RecordsTree, sources_tree.SourcesTree,
            confirm.Confirm, copy_dialog.CopyDialog, open_source.OpenSource,
            prune_plan.PrunePlanModal, reexport_dialog.ReexportDialog,
            space.SpaceScreen, shares.SharesModal]


def test_every_binding_has_an_id_and_a_description() -> None:
    ids: dict[str, type] = {}
    for cls in all_binding_classes():
        for binding in cls.__dict__.get("BINDINGS", []):
            assert isinstance(binding, Binding), (cls, binding)
            assert binding.id and binding.description, (cls.__name__, binding)
            assert ids.setdefault(binding.id, cls) is cls, f"{binding.id} used twice"


async def test_help_is_ordered_by_what_a_user_does(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        descriptions = [row[1] for row in screen.rows]
        groups = [row[3] for row in screen.rows]
        assert "Cancel job" in descriptions, descriptions
        for generic in ("Page Left", "Page Right", "Copy selected text", "Focus Next"):
            assert generic not in descriptions
        order = [name for name, _ in keymap.GROUPS] + ["Other"]
        ranks = [order.index(group) for group in groups]
        assert ranks == sorted(ranks)
        assert descriptions.index("Down") < descriptions.index("Open") < \
            descriptions.index("Mark") < descriptions.index("Prune") < descriptions.index("Quit")


@pytest.mark.parametrize("size", [(80, 24), (140, 40)])
async def test_config_keymap_remaps_a_key(app_factory: AppFactory,
                                          size: tuple[int, int]) -> None:
    config = parse_config('[keymap]\n"main.mark" = "m"\n"ext.prune.plan" = "delete"\n')
    app = app_factory(config=config)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        main = app.screen
        await pilot.press("m")
        assert len(main.marks.keys) == 1  # type: ignore[attr-defined]
        await pilot.press("space")
        assert len(main.marks.keys) == 1  # type: ignore[attr-defined]
        await pilot.press("question_mark")
        rows = {row[1]: row[0] for row in app.screen.rows}  # type: ignore[attr-defined]
        assert rows["Mark"].strip() == "m" and rows["Prune"].strip() == "del"  # Textual shows delete as "del"

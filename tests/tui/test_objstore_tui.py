"""The TUI on an s3 bucket (moto): each manifest name is a row, the prefix's orphans are shown."""

from __future__ import annotations

from cachetui.config import Config
from cachetui.tui.app import CachetuiApp, make_app
from cachetui.tui.model import Row, SourceStatus
from cachetui.tui.screens.main import MainScreen
from cachetui.tui.widgets.cache_table import COLUMNS, CacheTable
from tests.backend_fixtures import facts
from tests.objstore_procs import Moto, load_s3
from tests.objstore_servers import unique_name
from tests.test_objstore_cli import s3_spec
from tests.tui.conftest import clock, settle

SIZE = (120, 36)


def main_screen(app: CachetuiApp) -> MainScreen:
    screen = app.screen_stack[1]
    assert isinstance(screen, MainScreen)
    return screen


async def test_an_s3_spec_opens_with_every_manifest_and_the_orphaned_bytes(moto: Moto) -> None:
    bucket = unique_name()
    load_s3(moto, bucket, "two-builds")
    app = make_app([s3_spec(moto, bucket)], config=Config(), clock=clock,
                   use_config_sources=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        [state] = main.sources.values()
        assert state.status is not SourceStatus.FAILED, state.error
        assert state.unreferenced == facts("s3", "two-builds")["orphanedBytes"]
        tags = sorted(row.entry.tag for row in main.rows.values())
        assert tags == ["main", "release"]
        for row in main.rows.values():
            assert row.entry.analysis is not None and row.entry.analysis.layer_count == 9
        # The Form column names the store's own form, as `ls` does (present/forms.py).
        table = main.query_one(CacheTable)
        assert "Form" in table.shown_columns()
        assert {form_label(table, row) for row in main.rows.values()} == {"annotated"}


def form_label(table: CacheTable, row: Row) -> str:
    """The Form cell of ``row``, and the same on screen when the terminal shows the column."""
    index = [title for title, _, _ in COLUMNS].index("Form")
    label = str(table.cells(row, False, {}, {}, clock())[index])
    if "Form" in table.shown_columns():
        assert str(table.get_cell(row.key, "form")) == label
    return label

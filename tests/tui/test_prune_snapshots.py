"""SVG snapshots of pruning in the TUI (fixed clock, old blobs): marked rows, and the plan modal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cachetui.tui.app import CachetuiApp
from tests.prune_support import copy_fixture
from tests.tui.test_snapshots import SIZE, keys

AppFactory = Callable[..., CachetuiApp]
SnapCompare = Callable[..., bool]


def test_prune_marked_rows(snap_compare: SnapCompare, app_factory: AppFactory, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    copy_fixture("local-multi-tag", tmp_path / "multi")
    copy_fixture("local-max-twice", tmp_path / "twice")
    app = app_factory(["./multi", "./twice"])
    monkeypatch.chdir(tmp_path)
    assert snap_compare(app, terminal_size=SIZE, run_before=keys("space", "down", "space"))


def test_prune_plan_modal(snap_compare: SnapCompare, app_factory: AppFactory, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Old blobs, so the figures do not depend on how long ago the directory was written.
    copy_fixture("local-multi-tag", tmp_path / "multi")
    app = app_factory(["./multi"])
    monkeypatch.chdir(tmp_path)
    assert snap_compare(app, terminal_size=SIZE, run_before=keys("space", "space", "d"))


@pytest.mark.parametrize("size", [(80, 24), (140, 40)])
def test_prune_plan_of_300_tags(snap_compare: SnapCompare, app_factory: AppFactory,
                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                size: tuple[int, int]) -> None:
    """The plan scrolls; the typed confirmation and both buttons stay whole."""
    from tests.tui.test_fit import many_tags

    many_tags(tmp_path / "many", 300)
    app = app_factory(["./many"])
    monkeypatch.chdir(tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=keys("ctrl+a", "d"))

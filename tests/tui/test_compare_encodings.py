"""The compare screen on two BuildKit exports of one builder state (gzip and zstd): the layers
differ by digest, the records and layer contents do not — "same cache, different encoding"."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from rich.console import Console
from textual.pilot import Pilot

from cachetui.tui.app import make_app
from cachetui.tui.screens.compare import CompareScreen
from tests.fixtures import fixture_dir
from tests.tui.conftest import clock, settle

SnapCompare = Callable[..., bool]
SIZE = (120, 36)


def variants_app(monkeypatch: pytest.MonkeyPatch) -> object:
    gzip, zstd = fixture_dir("buildkit-variants", "gzip"), fixture_dir("buildkit-variants", "zstd")
    # Relative paths: the snapshot must not depend on where the fixtures live.
    monkeypatch.chdir(gzip.parent.parent)
    monkeypatch.setenv("CACHETUI_CONFIG", "/nonexistent/config.toml")
    return make_app([f"./{gzip.parent.name}/{gzip.name}", f"./{zstd.parent.name}/{zstd.name}"],
                    clock=clock, use_config_sources=False)


async def compare_first_two(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("space", "space", "equals_sign")
    await settle(pilot)


async def test_gzip_and_zstd_exports_are_the_same_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    app = variants_app(monkeypatch)
    async with app.run_test(size=SIZE) as pilot:  # type: ignore[attr-defined]
        await compare_first_two(pilot)
        screen = app.screen  # type: ignore[attr-defined]
        assert isinstance(screen, CompareScreen)
        sources = {screen.left.entry.source.rsplit("/", 1)[-1],
                   screen.right.entry.source.rsplit("/", 1)[-1]}
        assert sources == {"gzip", "zstd"}
        assert screen.diff is not None and screen.diff.same_cache
        assert screen.diff.only_left and screen.diff.only_right
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(screen.summary(screen.diff))
        assert "Same cache in a different encoding" in console.export_text()


def test_compare_encodings_snapshot(snap_compare: SnapCompare,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert snap_compare(variants_app(monkeypatch), terminal_size=SIZE,
                        run_before=compare_first_two)

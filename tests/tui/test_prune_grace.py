"""The prune modal says what is freed now and after the grace period, lets the user set the grace
period, and runs named policies from the config (issue 14 found 6, add 3)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.widgets import Input, Label, Select

from cachetui.config import parse_config
from cachetui.tui.app import CachetuiApp
from cachetui.tui.modals.prune_plan import PrunePlanModal
from tests.prune_support import cache_manifest, write_index
from tests.tui.conftest import settle
from tests.tui.test_fit import SIZES, assert_controls_whole

AppFactory = Callable[..., CachetuiApp]


def fresh_dir(root: Path) -> Path:
    """Two tags with their own blobs, written just now: inside any grace period."""
    created = datetime(2026, 1, 1, tzinfo=UTC)
    write_index(root, {"old": cache_manifest(root, [b"old layer" * 100], created, salt="o"),
                       "new": cache_manifest(root, [b"new layer" * 100], created, salt="n")})
    return root


def title(app: CachetuiApp) -> str:
    return str(app.screen.query_one("#prune-title", Label).render())


@pytest.mark.parametrize("size", SIZES)
async def test_plan_says_freed_now_and_after_the_grace_period(
        app_factory: AppFactory, tmp_path: Path, size: tuple[int, int]) -> None:
    app = app_factory([str(fresh_dir(tmp_path / "dir"))])
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+a")
        await settle(pilot)
        status = str(app.screen.query_one("#status").render())
        assert "2 marked" in status and "frees up to" in status, status
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, PrunePlanModal)
        assert_controls_whole(app)
        text = title(app)
        assert "frees 0 Bytes now" in text and "more after the grace period (10m" in text
        assert app.screen.plan.spared_bytes > 0
        grace = app.screen.query_one("#prune-grace", Input)
        grace.value = "0s"
        await pilot.pause(0.5)
        await settle(pilot)
        text = title(app)
        assert "frees 0 Bytes" not in text and "grace period" not in text, text
        assert app.screen.plan.policy.grace.total_seconds() == 0


async def test_a_named_policy_runs_as_a_plan(app_factory: AppFactory, tmp_path: Path) -> None:
    config = parse_config('[policies.only-new]\nmatch = ["new"]\ngrace = "0s"\n')
    app = app_factory([str(fresh_dir(tmp_path / "dir"))], config=config)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, PrunePlanModal)
        modal.query_one("#prune-policy", Select).value = "only-new"
        await pilot.pause(0.5)
        await settle(pilot)
        assert [i.tag for s in modal.plan.sources for i in s.active] == ["new"]
        assert modal.plan.policy.match == ("new",)


async def test_nothing_to_prune_says_so(app_factory: AppFactory, tmp_path: Path) -> None:
    config = parse_config('[policies.none]\nmatch = ["no-such-tag"]\n')
    app = app_factory([str(fresh_dir(tmp_path / "dir"))], config=config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        app.screen.query_one("#prune-policy", Select).value = "none"
        await pilot.pause(0.5)
        await settle(pilot)
        assert title(app).startswith("Nothing to prune")
        assert "0 caches" not in title(app)

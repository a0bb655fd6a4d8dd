"""Shared set-up for TUI tests: the demo set (built once), a fixed clock, helpers that settle the app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from textual.pilot import Pilot

from cachetui.demo.dataset import FIXED_NOW, build_demo
from cachetui.tui.app import CachetuiApp, make_app
from cachetui.tui.jobs import JobState
from cachetui.tui.screens.main import MainScreen


def clock() -> datetime:
    return FIXED_NOW


@pytest.fixture(scope="session")
def demo_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return build_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def app_factory(demo_dirs: list[Path], monkeypatch: pytest.MonkeyPatch,
                tmp_path: Path) -> Callable[..., CachetuiApp]:
    monkeypatch.setenv("CACHETUI_CONFIG", str(tmp_path / "no-config.toml"))

    # Relative paths keep snapshots free of the temporary directory's name.
    monkeypatch.chdir(demo_dirs[0].parent.parent)
    prefix = demo_dirs[0].parent.name

    def build(sources: list[str] | None = None, **kwargs: object) -> CachetuiApp:
        chosen = [f"./{prefix}/{p.name}" for p in demo_dirs] if sources is None else sources
        return make_app(chosen, clock=clock, use_config_sources=False, **kwargs)  # type: ignore[arg-type]

    return build


async def settle(pilot: Pilot[None]) -> None:
    """Wait for every worker, deliver their messages, and draw pending table updates."""
    app = pilot.app
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()
    for screen in app.screen_stack:
        if isinstance(screen, MainScreen):
            screen.flush()
    await pilot.pause()


JOB_DEADLINE_S = 120.0


async def finish_jobs(pilot: Pilot[None]) -> None:
    """Settle until no background job is running (bounded), for tests that check a job's end state.

    ``settle`` alone can return while a job is still running when the job's worker was started by a
    message delivered after its last pass; a loaded CI machine made that visible.
    """
    deadline = time.monotonic() + JOB_DEADLINE_S
    await settle(pilot)
    app = pilot.app
    assert isinstance(app, CachetuiApp)
    while any(job.state is JobState.RUNNING for job in app.jobs.values()):
        if time.monotonic() > deadline:
            raise AssertionError(f"jobs still running after {JOB_DEADLINE_S:.0f} s")
        await asyncio.sleep(0.05)
        await settle(pilot)

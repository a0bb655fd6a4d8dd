"""Pilot tests of re-exporting from the TUI: `r`, the options dialog and its plan, the job; snapshots
of the dialog and of a running prune job (issue 6)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from cachetui.buildkit.rewrite import OCI_REQUIRED_MESSAGE
from cachetui.oci import mediatypes as mt
from cachetui.ops.load import load_document
from cachetui.ops.progress import CancelToken, Progress, ProgressSink
from cachetui.store.layout import LayoutStore
from cachetui.tui.app import CachetuiApp
from cachetui.tui.jobs import JobState
from cachetui.tui.modals.destination_input import DestinationInput
from cachetui.tui.modals.prune_plan import PrunePlanModal
from cachetui.tui.modals.reexport_dialog import ReexportDialog
from tests.prune_support import copy_fixture
from tests.tui.conftest import finish_jobs, settle
from tests.tui.test_copy_tui import SIZE, fixed_clock, main_screen, paused_run

AppFactory = Callable[..., CachetuiApp]
SnapCompare = Callable[..., bool]


def dialog_of(app: CachetuiApp) -> ReexportDialog:
    assert isinstance(app.screen, ReexportDialog)
    return app.screen


def texts(dialog: ReexportDialog) -> tuple[str, str]:
    return (str(dialog.query_one("#reexport-error", Label).content),
            str(dialog.query_one("#reexport-plan", Static).content))


async def test_options_update_the_plan_and_refuse_docker_image_manifest(
        app_factory: AppFactory, demo_dirs: list[Path], tmp_path: Path) -> None:
    source = tmp_path / "app-max"
    shutil.copytree(demo_dirs[0], source)
    app = app_factory([str(source)])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        dialog = dialog_of(app)
        field = dialog.query_one("#reexport-dest", DestinationInput)
        apply = dialog.query_one("#reexport-apply", Button)
        assert field.value == f"{source}:buildcache-zstd"
        error, plan = texts(dialog)
        assert error == "" and "compression  zstd-3" in plan and "12 re-encode" in plan
        assert not apply.disabled
        dialog.query_one("#reexport-compression", Select).value = "uncompressed"
        await settle(pilot)
        assert field.value == f"{source}:buildcache-uncompressed"
        assert "compression  uncompressed" in texts(dialog)[1]
        dialog.query_one("#reexport-min", Checkbox).value = True
        await settle(pilot)
        assert "min " in texts(dialog)[1] and "drop" in texts(dialog)[1]
        dialog.query_one("#reexport-media", Select).value = "docker"
        dialog.query_one("#reexport-form", Select).value = "image-manifest"
        await settle(pilot)
        assert texts(dialog)[0] == OCI_REQUIRED_MESSAGE and apply.disabled
        dialog.query_one("#reexport-form", Select).value = "index"
        await settle(pilot)
        assert texts(dialog)[0] == "" and "-> docker-list" in texts(dialog)[1]
        assert not apply.disabled
        dialog.query_one("#reexport-compression", Select).value = "gzip"
        await settle(pilot)
        level = dialog.query_one("#reexport-level", Input)
        level.value = "42"
        await settle(pilot)
        assert texts(dialog)[0] == "gzip level must be 0..9, got 42" and apply.disabled
        # The source itself (same tag) is refused as the destination.
        level.value = ""
        field.value = f"{source}:buildcache"
        await settle(pilot)
        assert "is the source itself" in texts(dialog)[0] and apply.disabled
        await pilot.press("escape")
        await settle(pilot)
        assert app.jobs == {}
    assert await LayoutStore(source).list_tags() == ["buildcache"]


async def test_reexport_to_zstd_runs_as_a_job_and_the_table_refreshes(
        app_factory: AppFactory, demo_dirs: list[Path], tmp_path: Path) -> None:
    source = tmp_path / "app-max"
    shutil.copytree(demo_dirs[0], source)
    app = app_factory([str(source)])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        main = main_screen(app)
        await pilot.press("r")
        await settle(pilot)
        apply = dialog_of(app).query_one("#reexport-apply", Button)
        assert not apply.disabled, texts(dialog_of(app))
        apply.press()
        await finish_jobs(pilot)
        [job] = app.jobs.values()
        assert job.state is JobState.DONE, job.error
        assert job.title == "re-export buildcache → buildcache-zstd"
        assert job.refresh == (str(source),)
        assert [n.severity for n in app._notifications] == ["information"]
        await settle(pilot)
        rows = {row.entry.tag: row for row in main.rows.values()}
        assert sorted(rows) == ["buildcache", "buildcache-zstd"]
        analysis = rows["buildcache-zstd"].entry.analysis
        assert analysis is not None
    document = await load_document(LayoutStore(source), "buildcache-zstd")
    assert {mt.layer_compression(d.media_type) for d in document.layers} == {mt.Compression.ZSTD}


async def test_x_cancels_a_running_reexport(app_factory: AppFactory, demo_dirs: list[Path],
                                            tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def paused(plan: Any, source: Any, destination: Any, *, sink: ProgressSink,
                     cancel: CancelToken) -> None:
        await paused_run(started, release, Progress("re-encode", 5, 50))(sink, cancel)

    monkeypatch.setattr("cachetui.tui.copying.apply_reexport", paused)
    source = tmp_path / "app-max"
    shutil.copytree(demo_dirs[0], source)
    app = app_factory([str(source)])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        dialog_of(app).query_one("#reexport-apply", Button).press()
        await started.wait()
        await pilot.press("x")
        await finish_jobs(pilot)
        [job] = app.jobs.values()
        assert job.state is JobState.CANCELLED
    assert await LayoutStore(source).list_tags() == ["buildcache"]


# ---- snapshots ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [SIZE, (80, 24), (140, 40)])
def test_reexport_dialog_snapshot(snap_compare: SnapCompare, app_factory: AppFactory,
                                  demo_dirs: list[Path], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]) -> None:
    shutil.copytree(demo_dirs[0], tmp_path / "app-max")
    app = app_factory(["./app-max"])
    monkeypatch.chdir(tmp_path)

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_running_prune_job_snapshot(snap_compare: SnapCompare, app_factory: AppFactory,
                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy_fixture("local-multi-tag", tmp_path / "multi")
    app = app_factory(["./multi"])
    monkeypatch.chdir(tmp_path)
    started, release = asyncio.Event(), asyncio.Event()

    async def paused_prune(stores: Any, plan: Any, *, progress: ProgressSink,
                           cancel: CancelToken) -> None:
        await paused_run(started, release, Progress("delete", 1, 2, unit="tags",
                                                    detail="main"))(progress, cancel)

    monkeypatch.setattr("cachetui.tui.pruning.apply_prune", paused_prune)

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("space", "space", "d")
        await settle(pilot)
        modal = pilot.app.screen
        assert isinstance(modal, PrunePlanModal)
        modal.query_one("#prune-apply", Button).press()
        await started.wait()
        [job] = pilot.app.jobs.values()  # type: ignore[attr-defined]
        fixed_clock(job)
        pilot.app._sync_job(job)  # type: ignore[attr-defined]
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)

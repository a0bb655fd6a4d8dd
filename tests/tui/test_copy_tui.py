"""Pilot tests of copying from the TUI: `c`, the destination dialog, the job, refresh; snapshots."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, Label, Static

from cachetui.oci.reference import parse_reference
from cachetui.ops.progress import CancelToken, Progress, ProgressSink
from cachetui.store.layout import LayoutStore
from cachetui.store.registry import RegistrySession
from cachetui.tui.app import CachetuiApp, make_app
from cachetui.tui.jobs import Job, JobState
from cachetui.tui.modals.copy_dialog import CopyDialog
from cachetui.tui.modals.destination_input import DestinationInput
from cachetui.tui.screens.main import MainScreen
from cachetui.tui.widgets.cache_table import CacheTable
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, unique_repo
from tests.tui.conftest import clock, finish_jobs, settle

AppFactory = Callable[..., CachetuiApp]
SnapCompare = Callable[..., bool]
SIZE = (120, 36)


def main_screen(app: CachetuiApp) -> MainScreen:
    screen = app.screen_stack[1]
    assert isinstance(screen, MainScreen)
    return screen


def move_to(main: MainScreen, source_end: str, tag: str) -> None:
    table = main.query_one(CacheTable)
    for index in range(table.row_count):
        table.move_cursor(row=index)
        current = table.current()
        if current is not None and current.entry.tag == tag and \
                current.source_id.endswith(source_end):
            return
    raise AssertionError(f"no row {source_end}:{tag}")


def copy_dialog(app: CachetuiApp) -> CopyDialog:
    assert isinstance(app.screen, CopyDialog)
    return app.screen


async def type_text(pilot: Pilot[None], text: str) -> None:
    """Type the last few characters of ``text`` as keys (the rest is pasted: fast)."""
    field = pilot.app.focused
    assert isinstance(field, DestinationInput)
    field.value, keys = text[:-4], text[-4:]
    field.cursor_position = len(field.value)
    await pilot.press(*keys)
    await settle(pilot)


def error_text(dialog: CopyDialog) -> str:
    return str(dialog.query_one("#copy-error", Label).content)


def plan_text(dialog: CopyDialog) -> str:
    return str(dialog.query_one("#copy-plan-text", Static).content)


async def test_destination_is_validated_as_you_type(app_factory: AppFactory,
                                                    tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        move_to(main_screen(app), "app-max", "buildcache")
        await pilot.press("c")
        await settle(pilot)
        dialog = copy_dialog(app)
        field = dialog.query_one("#copy-dest", DestinationInput)
        assert app.focused is field
        apply = dialog.query_one("#copy-apply", Button)
        await pilot.press(*"localhost:5000")
        await settle(pilot)
        assert "registry host; name a repository" in error_text(dialog)
        assert apply.disabled and not field.is_valid
        await type_text(pilot, "localhost:5000/repo@sha256:" + "a" * 64)
        assert "a destination takes a tag, not a digest" in error_text(dialog)
        await type_text(pilot, str(tmp_path / "a-file"))
        assert "not a directory" in error_text(dialog) and apply.disabled
        # The source itself (same directory, same tag) is refused.
        await type_text(pilot, f"{main_screen(app).query_one(CacheTable).current().source_id}:buildcache")  # type: ignore[union-attr]
        assert "is the source itself" in error_text(dialog) and apply.disabled
        await type_text(pilot, str(tmp_path / "new-dir"))
        assert error_text(dialog) == "" and field.is_valid
        assert "to copy" in plan_text(dialog) and "buildcache -> buildcache" in plan_text(dialog)
        assert not apply.disabled
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, CopyDialog) and app.jobs == {}
    assert not (tmp_path / "new-dir").exists()


async def test_destination_completes_known_sources(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        field = copy_dialog(app).query_one("#copy-dest", DestinationInput)
        prefix = next(iter(main_screen(app).sources)).split("/")[0]
        await type_text(pilot, f"./{prefix}/app-min-u")
        assert field._suggestion == f"./{prefix}/app-min-uncompressed"
        await pilot.press("right")
        assert field.value == f"./{prefix}/app-min-uncompressed"


async def test_marked_caches_copy_to_a_new_directory_as_a_job(app_factory: AppFactory,
                                                              tmp_path: Path) -> None:
    destination = tmp_path / "copied"
    app = app_factory()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        main = main_screen(app)
        move_to(main, "app-max", "buildcache")
        await pilot.press("space")
        move_to(main, "legacy-oci-index", "latest")
        await pilot.press("space")
        digests = {row.entry.tag: row.entry.digest for row in main.marked_rows()}
        await pilot.press("c")
        await settle(pilot)
        dialog = copy_dialog(app)
        assert "Copy 2 caches" in str(dialog.query_one(".dialog-title", Label).content)
        await type_text(pilot, str(destination))
        headers = [line for line in plan_text(dialog).splitlines() if line.startswith("copy ")]
        assert len(headers) == 2 and all(line.endswith(f" -> {destination}") for line in headers)
        await pilot.press("enter")
        await finish_jobs(pilot)
        [job] = app.jobs.values()
        assert job.state is JobState.DONE, job.error
        assert job.title == f"copy 2 caches → {destination}"
        assert any(job.title in n.title for n in app._notifications)  # the toast
        await settle(pilot)
        # The new directory is opened as a source and its caches show in the table.
        copied = {row.entry.tag: row.entry.digest for row in main.rows.values()
                  if row.source_id == str(destination)}
        assert copied == digests
        assert main.marks.keys == []
    store = LayoutStore(destination)
    assert sorted(await store.list_tags()) == sorted(digests)


async def test_copy_into_an_open_source_refreshes_its_rows(app_factory: AppFactory,
                                                           demo_dirs: list[Path],
                                                           tmp_path: Path) -> None:
    target = tmp_path / "target"
    shutil.copytree(demo_dirs[1], target)  # app-min
    app = app_factory([str(demo_dirs[0]), str(target)])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        move_to(main, "app-max", "buildcache")
        await pilot.press("c")
        await settle(pilot)
        await type_text(pilot, f"{target}:from-max")
        await pilot.press("enter")
        await finish_jobs(pilot)
        [job] = app.jobs.values()
        assert job.state is JobState.DONE, job.error
        assert job.refresh == (str(target),)
        await settle(pilot)
        assert sorted(row.entry.tag for row in main.rows.values()
                      if row.source_id == str(target)) == ["buildcache", "from-max"]


async def test_copy_to_the_test_registry(app_factory: AppFactory, demo_dirs: list[Path],
                                         registry: RunningRegistry) -> None:
    location = f"{registry.host}/{unique_repo('tui-copy')}"
    app = app_factory([str(demo_dirs[0])])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        move_to(main, "app-max", "buildcache")
        digest = main.query_one(CacheTable).current().entry.digest  # type: ignore[union-attr]
        await pilot.press("c")
        await settle(pilot)
        await type_text(pilot, f"{location}:copied")
        dialog = copy_dialog(app)
        assert "buildcache -> copied" in plan_text(dialog)
        await pilot.press("enter")
        await finish_jobs(pilot)
        [job] = app.jobs.values()
        assert job.state is JobState.DONE, job.error
        await settle(pilot)
        assert [(row.entry.tag, row.entry.digest) for row in main.rows.values()
                if row.source_id == location] == [("copied", digest)]
    async with RegistrySession(fast_settings()) as session:
        store = session.repository(parse_reference(location, default_tag=False))
        assert (await store.resolve("copied")).digest == digest


def paused_run(started: asyncio.Event, release: asyncio.Event,
               progress: Progress) -> Callable[[ProgressSink, CancelToken], Awaitable[object]]:
    """A job body that reports ``progress`` and waits on ``release`` (never set for cancels)."""

    async def run(sink: ProgressSink, token: CancelToken) -> object:
        sink(progress)
        started.set()
        await release.wait()
        token.check()
        return None

    return run


async def test_x_cancels_a_running_copy(app_factory: AppFactory, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def paused_copy(plan: Any, source: Any, destination: Any, *, sink: ProgressSink,
                          cancel: CancelToken) -> None:
        await paused_run(started, release, Progress("layers", 10, 100))(sink, cancel)

    monkeypatch.setattr("cachetui.tui.copying.apply_copy", paused_copy)
    app = app_factory()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        move_to(main_screen(app), "app-max", "buildcache")
        await pilot.press("c")
        await settle(pilot)
        await type_text(pilot, str(tmp_path / "never"))
        await pilot.press("enter")
        await started.wait()
        await pilot.pause()
        [job] = app.jobs.values()
        assert job.running and app.check_action("cancel_job", ()) is True
        await pilot.press("x")
        await settle(pilot)
        assert job.state is JobState.CANCELLED and job.token.cancelled
        assert [n.severity for n in app._notifications] == ["warning"]
    assert not (tmp_path / "never").exists()


async def test_read_only_hides_copy_and_reexport(app_factory: AppFactory) -> None:
    app = app_factory(read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        assert main.check_action("ext", ("copy.copy-to",)) is False
        assert main.check_action("ext", ("copy.reexport",)) is False
        titles = {c.title for c in main.palette_commands()}
        assert "Copy" not in titles and "Re-export" not in titles
        await pilot.press("c")
        await pilot.press("r")
        await settle(pilot)
        assert app.screen is main


async def test_palette_offers_copy_and_a_read_only_destination_is_refused(
        app_factory: AppFactory, demo_dirs: list[Path], tmp_path: Path) -> None:
    from cachetui.config import Config, SourceConfig

    frozen = tmp_path / "frozen"
    shutil.copytree(demo_dirs[1], frozen)
    config = Config(sources=[SourceConfig(str(frozen), read_only=True)])
    app = make_app([str(demo_dirs[0])], config=config, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        move_to(main, "app-max", "buildcache")
        commands = {c.title: c for c in main.palette_commands()}
        assert {"Copy", "Re-export"} <= set(commands)
        await commands["Copy"].run()  # type: ignore[misc]
        await settle(pilot)
        dialog = copy_dialog(app)
        await type_text(pilot, f"{frozen}:x")
        assert error_text(dialog) == f"{frozen} is a read-only source"
        assert dialog.query_one("#copy-apply", Button).disabled
        # Completion offers the open sources, the config's included.
        assert str(frozen) in dialog.known


# ---- snapshots ------------------------------------------------------------------------------


def test_copy_dialog_snapshot(snap_compare: SnapCompare, app_factory: AppFactory) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        main = main_screen(pilot.app)  # type: ignore[arg-type]
        move_to(main, "app-max", "buildcache")
        await pilot.press("space")
        move_to(main, "app-min", "buildcache")
        await pilot.press("space", "c")
        await settle(pilot)
        await type_text(pilot, "./copy-dest")
        # A blinking cursor is drawn or not depending on when the picture is taken.
        pilot.app.screen.query_one("#copy-dest", Input).cursor_blink = False
        await settle(pilot)

    assert snap_compare(app_factory(), terminal_size=SIZE, run_before=run_before)


def fixed_clock(job: Job) -> None:
    """Rate and ETA from a fixed clock: 10 s elapsed."""
    job.started = 1000.0
    job.clock = lambda: 1010.0


def test_jobs_panel_with_a_running_copy_snapshot(snap_compare: SnapCompare,
                                                 app_factory: AppFactory,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    progress = Progress("layers", 48 * 1024 * 1024, 120 * 1024 * 1024)

    async def paused_copy(plan: Any, source: Any, destination: Any, *, sink: ProgressSink,
                          cancel: CancelToken) -> None:
        await paused_run(started, release, progress)(sink, cancel)

    monkeypatch.setattr("cachetui.tui.copying.apply_copy", paused_copy)

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        move_to(main_screen(pilot.app), "app-max", "buildcache")  # type: ignore[arg-type]
        await pilot.press("c")
        await settle(pilot)
        await type_text(pilot, "./copy-dest")
        await pilot.press("enter")
        await started.wait()
        [job] = pilot.app.jobs.values()  # type: ignore[attr-defined]
        fixed_clock(job)
        pilot.app._sync_job(job)  # type: ignore[attr-defined]
        await pilot.pause()

    assert snap_compare(app_factory(), terminal_size=SIZE, run_before=run_before)

"""gc of a cache directory (and an s3 prefix) from the TUI (issue 14 add 3): ``C`` shows the
plan in a modal with the grace period (focus on Cancel), the job applies exactly that plan like
``cachetui gc --yes`` and the source is rescanned; hidden in read-only mode; snapshots at 80x24
and 140x40."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets import Button, Input

from cachetui.config import Config
from cachetui.ops.objscan import scan_prefix
from cachetui.store.layout import LayoutStore
from cachetui.store.s3 import S3Store
from cachetui.tui.app import CachetuiApp, make_app
from cachetui.tui.jobs import JobState
from cachetui.tui.modals.gc_plan import GcPlanModal
from cachetui.tui.screens.source import SourceScreen
from tests.backend_fixtures import facts
from tests.fixtures import fixture_dir
from tests.objstore_procs import Moto
from tests.objstore_servers import s3_settings
from tests.tui.conftest import clock, finish_jobs, settle
from tests.tui.test_dangling_tui import s3_app
from tests.tui.test_snapshots import keys

SnapCompare = Callable[..., bool]


def blob_path(directory: Path, digest: str) -> Path:
    return directory / "blobs" / "sha256" / digest.removeprefix("sha256:")


def directory_with_orphans(root: Path) -> tuple[Path, str, str]:
    """local-min plus an unreferenced blob two hours old and one written just now."""
    directory = root / "cache"
    shutil.copytree(fixture_dir("buildkit", "local-min"), directory)
    names = []
    for body, age in ((b"old orphan" * 100, 7200), (b"fresh orphan", 0)):
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        path = blob_path(directory, digest)
        path.write_bytes(body)
        then = time.time() - age
        os.utime(path, (then, then))
        names.append(digest)
    return directory, names[0], names[1]


def app_for(directory: Path, **kwargs: object) -> CachetuiApp:
    return make_app([str(directory)], config=Config(), clock=clock, use_config_sources=False,
                    **kwargs)  # type: ignore[arg-type]


def modal(app: CachetuiApp) -> GcPlanModal:
    assert isinstance(app.screen, GcPlanModal), app.screen
    return app.screen


@pytest.mark.parametrize("size", [(80, 24), (140, 40)])
async def test_gc_plan_grace_confirm_and_job(tmp_path: Path, size: tuple[int, int]) -> None:
    directory, old, fresh = directory_with_orphans(tmp_path)
    app = app_for(directory)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("C")
        await settle(pilot)
        dialog = modal(app)
        assert [b.name for b in dialog.plan.delete] == [old]
        assert [b.name for b in dialog.plan.spared] == [fresh]
        assert app.focused is dialog.query_one("#gc-cancel", Button)  # stray keys delete nothing
        apply = dialog.query_one("#gc-apply", Button)
        assert str(apply.label) == "Delete 1" and not apply.disabled
        assert apply.region.bottom <= size[1] and apply.region.width > 4  # whole, on screen
        # A grace of 0s replans: the fresh blob goes too.
        grace = dialog.query_one("#gc-grace", Input)
        grace.value = "0s"
        await settle(pilot)
        assert sorted(b.name for b in dialog.plan.delete) == sorted([old, fresh])
        assert str(apply.label) == "Delete 2"
        grace.value = "banana"
        await pilot.pause()
        assert apply.disabled
        grace.value = "10m"
        await settle(pilot)
        assert [b.name for b in dialog.plan.delete] == [old]
        apply.press()
        await finish_jobs(pilot)
        [job] = app.jobs.values()
        assert job.state is JobState.DONE, job.error
        assert job.title == f"gc {directory}"
    assert not blob_path(directory, old).exists()
    assert blob_path(directory, fresh).exists()
    plan = await LayoutStore(directory).plan_garbage(grace=timedelta(0))
    assert plan.missing == () and [b.digest for b in plan.blobs] == [fresh]


async def test_escape_deletes_nothing_and_the_source_view_offers_gc(tmp_path: Path) -> None:
    directory, old, fresh = directory_with_orphans(tmp_path)
    app = app_for(directory)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, SourceScreen)
        await pilot.press("C")
        await settle(pilot)
        modal(app)
        await pilot.press("enter")  # on Cancel
        await settle(pilot)
        assert isinstance(app.screen, SourceScreen) and app.jobs == {}
        await pilot.press("C")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.jobs == {}
    assert blob_path(directory, old).exists() and blob_path(directory, fresh).exists()


async def test_read_only_hides_gc(tmp_path: Path) -> None:
    directory, old, _ = directory_with_orphans(tmp_path)
    app = app_for(directory, read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert app.screen.check_action("ext", ("gc.collect-main",)) is False
        await pilot.press("C")
        await settle(pilot)
        assert not isinstance(app.screen, GcPlanModal)
    assert blob_path(directory, old).exists()


@pytest.mark.parametrize("size", [(80, 24), (140, 40)])
def test_gc_modal_snapshot(snap_compare: SnapCompare, tmp_path_factory: pytest.TempPathFactory,
                           monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]) -> None:
    root = tmp_path_factory.mktemp("gcsnap")
    directory, old, fresh = directory_with_orphans(root)
    # Fixed mtimes hours before the fixed clock (long past in real time, so both go), a
    # relative path: the picture does not depend on when or where the test runs.
    now = clock().timestamp()
    for digest, age in ((old, 7200), (fresh, 3 * 3600)):
        os.utime(blob_path(directory, digest), (now - age, now - age))
    monkeypatch.chdir(root)
    app = make_app(["cache"], config=Config(), clock=clock, use_config_sources=False)
    assert snap_compare(app, terminal_size=size, run_before=keys("C"))


async def test_gc_of_an_s3_prefix_spares_young_orphans_then_deletes_only_orphans(
        moto: Moto) -> None:
    """s3/azblob gc (the CLI's gc on an object location) from the TUI: 1h grace by default, the
    orphans of the real two-builds dump go with a grace of 0s and every manifest keeps its blobs."""
    bucket, app = s3_app(moto, "two-builds")
    info = facts("s3", "two-builds")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("C")
        await settle(pilot)
        dialog = modal(app)
        assert dialog.plan.delete == ()  # just uploaded: younger than the 1h grace
        assert sorted(o.name for o in dialog.plan.spared) == sorted(
            o["key"] for o in info["orphanedBlobs"])
        dialog.query_one("#gc-grace", Input).value = "0s"
        await settle(pilot)
        assert dialog.plan.bytes == info["orphanedBytes"]
        dialog.query_one("#gc-apply", Button).press()
        await finish_jobs(pilot)
        [job] = app.jobs.values()
        assert job.state is JobState.DONE, job.error
    store = S3Store(s3_settings(moto, bucket))
    try:
        report = await scan_prefix(store)
    finally:
        await store.aclose()
    assert report.orphans == () and not report.dangling
    assert sorted(m.name for m in report.manifests) == ["main", "release"]

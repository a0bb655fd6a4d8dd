"""Dangling references and orphaned blobs in the TUI (issue 11 item 4): the cache screen names
the blobs a cache needs that are gone, with the layers and records that will miss; the source
view (``i``) lists the orphaned blobs with bytes and age. Same ops models as the CLI."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from cachetui.config import Config
from cachetui.ops.objscan import scan_prefix
from cachetui.store.layout import LayoutStore
from cachetui.tui.app import CachetuiApp, make_app
from cachetui.tui.screens.cache import CacheScreen
from cachetui.tui.screens.source import SourceScreen
from tests.backend_fixtures import facts
from tests.fixtures import fixture_dir
from tests.objstore_procs import Moto, load_s3
from tests.objstore_servers import s3_settings, unique_name
from tests.test_objstore_cli import s3_spec
from tests.tui.conftest import clock, settle
from tests.tui.test_objstore_tui import SIZE


def static_text(screen: CacheScreen | SourceScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


def s3_app(moto: Moto, variant: str) -> tuple[str, CachetuiApp]:
    """A new bucket holding the real ``s3/<variant>`` dump, and an app on it."""
    bucket = unique_name()
    load_s3(moto, bucket, variant)
    return bucket, make_app([s3_spec(moto, bucket)], config=Config(), clock=clock,
                            use_config_sources=False)


async def open_cache(app: CachetuiApp, pilot: object) -> CacheScreen:
    await pilot.press("enter")  # type: ignore[attr-defined]
    await settle(pilot)  # type: ignore[arg-type]
    screen = app.screen
    assert isinstance(screen, CacheScreen)
    return screen


@pytest.mark.parametrize("size", [(80, 24), (140, 40)])
async def test_an_s3_cache_with_deleted_blobs_shows_what_will_miss(
        moto: Moto, size: tuple[int, int]) -> None:
    from cachetui.store.s3 import S3Store

    bucket, app = s3_app(moto, "dangling")
    info = facts("s3", "dangling")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = await open_cache(app, pilot)
        assert screen.dangling is not None
        assert {m.key for m in screen.dangling} == {d["key"] for d in info["deletedByHand"]}
        # The same model the CLI's scan reports (objects/inspect), not a second computation.
        store = S3Store(s3_settings(moto, bucket))
        try:
            (manifest,) = (await scan_prefix(store)).manifests
        finally:
            await store.aclose()
        assert screen.dangling == manifest.missing
        text = static_text(screen, "#dangling")
        assert "2 blob(s) this cache names are gone" in text
        for missing in manifest.missing:
            assert missing.key in text
            assert "layer " + ", ".join(f"#{i}" for i in missing.layers) in text
        # The source view: every manifest's dangling references, no orphans in this bucket.
        await pilot.press("escape", "i")
        await settle(pilot)
        source = app.screen
        assert isinstance(source, SourceScreen) and source.findings is not None
        assert len(source.findings.dangling) == 2 and source.findings.orphans == []
        assert "0 orphaned blob(s)" in static_text(source, "#source-facts")


async def test_the_source_view_lists_the_orphans_of_an_s3_prefix(moto: Moto) -> None:
    _, app = s3_app(moto, "two-builds")
    info = facts("s3", "two-builds")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        source = app.screen
        assert isinstance(source, SourceScreen) and source.findings is not None
        table = source.query_one("#orphans-table", DataTable)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        keys = sorted(o["key"] for o in info["orphanedBlobs"])
        assert sorted(o.name for o in source.findings.orphans) == keys
        # Shown with the digest cut to 12 hex digits; y copies the whole key.
        assert sorted(row[0] for row in rows) == sorted(k[:len("blobs/sha256:") + 12]
                                                        for k in keys)
        assert sum(o.size for o in source.findings.orphans) == info["orphanedBytes"]
        assert "none: every blob a cache names is stored" in static_text(source,
                                                                         "#source-dangling")


def directory_with_problems(tmp_path: Path) -> tuple[Path, str, str, str]:
    """local-min with one layer blob deleted, one old and one fresh unreferenced blob added."""
    directory = tmp_path / "cache"
    shutil.copytree(fixture_dir("buildkit", "local-min"), directory)
    store = LayoutStore(directory)
    top = store.get_manifest_sync("latest")
    layer = top.body.layers[0].digest  # type: ignore[union-attr]
    (directory / "blobs" / "sha256" / layer.removeprefix("sha256:")).unlink()
    names = []
    for body, age in ((b"old orphan" * 100, 7200), (b"fresh orphan", 0)):
        digest = hashlib.sha256(body).hexdigest()
        path = directory / "blobs" / "sha256" / digest
        path.write_bytes(body)
        then = time.time() - age
        os.utime(path, (then, then))
        names.append(f"sha256:{digest}")
    return directory, layer, names[0], names[1]


@pytest.mark.parametrize("size", [(80, 24), (140, 40)])
async def test_a_directory_with_a_removed_blob_and_orphans(tmp_path: Path,
                                                           size: tuple[int, int]) -> None:
    directory, removed, old, fresh = directory_with_problems(tmp_path)
    plan = await LayoutStore(directory).plan_garbage(grace=timedelta(minutes=10))
    assert list(plan.missing) == [removed]  # what `cachetui gc` reports for the directory
    app = make_app([str(directory)], config=Config(), clock=lambda: datetime.now(UTC),
                   use_config_sources=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = await open_cache(app, pilot)
        assert screen.dangling is not None
        [missing] = screen.dangling
        assert missing.digest == removed and missing.layers and missing.records
        assert removed in static_text(screen, "#dangling")
        await pilot.press("escape", "i")
        await settle(pilot)
        source = app.screen
        assert isinstance(source, SourceScreen) and source.findings is not None
        table = source.query_one("#orphans-table", DataTable)
        rows = {source.findings.orphans[i].name: [str(c) for c in table.get_row_at(i)]
                for i in range(table.row_count)}
        assert set(rows) == {old, fresh}
        assert rows[old][0] == old[:len("sha256:") + 12]
        assert rows[old][1:3] == ["1000 Bytes", "2h ago"], rows[old]
        assert rows[old][3] == "" and rows[fresh][3] == "younger than 10m"
        assert any(removed in line for line in source.findings.dangling)

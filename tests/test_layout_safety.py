"""Writes into a cache directory protect what they rely on (issue 10, items 1, 2 and 17).

- A copy that reuses blobs already in the directory must not end with a tag whose blobs a gc,
  running at the same time, deleted (item 1).
- A blob file of the right size but the wrong bytes is not "already there": copy rewrites it
  (item 2).
- A (dangling) ``index.json.lock`` symlink never makes a write land outside the directory
  (item 17).
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

import pytest

from cachetui.demo.generator import CacheShape, write_cache
from cachetui.errors import LayoutError
from cachetui.ops.copy import apply_copy, copy_cache, plan_copy
from cachetui.ops.gc import plan_gc, sweep_sync
from cachetui.ops.progress import Progress
from cachetui.ops.transfer import BlobAction
from cachetui.store.layout import LayoutStore
from tests.prune_support import OLD, age_all_blobs, reachable_ok


def _source(tmp_path: Path) -> LayoutStore:
    write_cache(tmp_path / "src", "latest", CacheShape(layer_bytes=16 * 1024, stages=2))
    return LayoutStore(tmp_path / "src")


def _stale_copy(tmp_path: Path, source: LayoutStore) -> LayoutStore:
    """A destination that holds every blob of the source, untagged and old: gc's garbage."""
    destination = LayoutStore(tmp_path / "dst", create=True)
    asyncio.run(copy_cache(source, ["latest"], destination, "old"))
    asyncio.run(destination.delete_tag("old"))
    age_all_blobs(destination.root, OLD)
    return destination


def _copy_with_gc_midway(source: LayoutStore, destination: LayoutStore,
                         grace: timedelta) -> list[str]:
    """Copy ``latest`` to ``new`` while a gc sweeps the directory after the blobs were checked
    and before the tag is written (the window the adversarial run hit)."""
    deleted: list[str] = []

    def sink(progress: Progress) -> None:
        if progress.task == "configs" and not deleted:
            gc_plan = plan_gc(LayoutStore(destination.root), grace=grace)
            result = sweep_sync(LayoutStore(destination.root), [b.digest for b in gc_plan.blobs],
                                [], grace=grace)
            deleted.extend(str(blob.digest) for blob in result.deleted)
            deleted.append("(gc ran)")

    async def run() -> None:
        plan = await plan_copy(source, ["latest"], destination, "new")
        assert plan.count_for(BlobAction.COPY) == 0  # everything is "already there"
        await apply_copy(plan, source, destination, sink=sink)

    asyncio.run(run())
    assert deleted, "the gc never ran"
    return deleted[:-1]


def test_gc_during_a_copy_spares_the_blobs_the_copy_reuses(tmp_path: Path) -> None:
    source = _source(tmp_path)
    destination = _stale_copy(tmp_path, source)
    deleted = _copy_with_gc_midway(source, destination, timedelta(hours=1))
    top = asyncio.run(source.get_manifest("latest"))
    # The copy refreshed the blobs it reuses before relying on them; only the old untagged
    # manifest may go (the copy writes the manifest anew whatever is there).
    assert set(deleted) <= {top.digest}
    assert reachable_ok(destination.root) == []


def test_a_copy_puts_back_what_a_gc_without_grace_took_before_tagging(tmp_path: Path) -> None:
    source = _source(tmp_path)
    destination = _stale_copy(tmp_path, source)
    deleted = _copy_with_gc_midway(source, destination, timedelta(0))
    assert deleted  # with no grace period gc takes them ...
    assert reachable_ok(destination.root) == []  # ... and the copy puts them back before tagging
    assert asyncio.run(destination.list_tags()) == ["new"]


def test_copy_rewrites_a_corrupt_blob_of_the_right_size(tmp_path: Path) -> None:
    source = _source(tmp_path)
    destination = _stale_copy(tmp_path, source)
    manifest = asyncio.run(source.get_manifest("latest"))
    layer = manifest.children()[0]
    path = destination.blob_path(layer.digest)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    plan = asyncio.run(plan_copy(source, ["latest"], destination, "new"))
    actions = {b.descriptor.digest: b.action for t in plan.tags for b in t.blobs}
    assert actions[layer.digest] is BlobAction.COPY
    result = asyncio.run(apply_copy(plan, source, destination))
    assert result.actions[layer.digest] is BlobAction.COPY
    assert reachable_ok(destination.root) == []


def test_a_verified_blob_is_hashed_once_per_process(tmp_path: Path) -> None:
    """Planning and applying both ask; the second answer comes from the first hash, unless the
    file changed in between."""
    source = _source(tmp_path)
    destination = _stale_copy(tmp_path, source)
    layer = asyncio.run(source.get_manifest("latest")).children()[0]
    store = LayoutStore(destination.root)
    assert store.has_verified_blob_sync(layer)
    path = store.blob_path(layer.digest)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))  # a write changes mtime: the memo no longer applies
    assert not store.has_verified_blob_sync(layer)


@pytest.mark.parametrize("dangling", [True, False])
def test_a_symlinked_lock_is_refused_and_nothing_is_written_outside(tmp_path: Path,
                                                                     dangling: bool) -> None:
    source = _source(tmp_path)
    destination = tmp_path / "dst"
    asyncio.run(copy_cache(source, ["latest"], LayoutStore(destination, create=True), "a"))
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "planted"
    if not dangling:
        target.write_bytes(b"keep")
    lock = destination / "index.json.lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(target)
    index_before = (destination / "index.json").read_bytes()
    with pytest.raises(LayoutError, match=r"index\.json\.lock is a symlink"):
        asyncio.run(copy_cache(source, ["latest"], LayoutStore(destination), "b"))
    with pytest.raises(LayoutError, match=r"index\.json\.lock is a symlink"):
        asyncio.run(LayoutStore(destination).list_tags())
    assert (destination / "index.json").read_bytes() == index_before
    assert target.exists() is not dangling
    if not dangling:
        assert target.read_bytes() == b"keep"
    assert sorted(p.name for p in outside.iterdir()) == ([] if dangling else ["planted"])


def test_gc_leaves_the_temp_file_of_a_write_in_progress(tmp_path: Path) -> None:
    """A temp file looks like the leftover of a killed write; while its writer holds it open
    (flocked), gc with no grace period must not delete it from under the writer."""
    from cachetui.store.fsutil import create_new, temp_name

    source = _source(tmp_path)
    destination = _stale_copy(tmp_path, source)
    blobs = destination.root / "blobs" / "sha256"
    busy = temp_name(blobs, "busy")
    fd = create_new(busy)
    abandoned = temp_name(blobs, "abandoned")
    os.close(create_new(abandoned))
    for path in (busy, abandoned):
        os.utime(path, (OLD, OLD))
    try:
        gc_plan = plan_gc(destination, grace=timedelta(0))
        assert {entry.name.rsplit("/", 1)[-1] for entry in gc_plan.ingest} >= {busy.name,
                                                                              abandoned.name}
        sweep_sync(destination, [], [entry.name for entry in gc_plan.ingest], grace=timedelta(0))
        assert busy.exists() and not abandoned.exists()
    finally:
        os.close(fd)

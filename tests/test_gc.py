"""Directory GC: BuildKit's reset=true rule from index.json, a grace period, stale ingest/, the lock."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from cachetui.cli import main
from cachetui.errors import LayoutError
from cachetui.ops.gc import apply_gc, plan_gc, sweep_sync
from cachetui.store.fsutil import flocked
from cachetui.store.layout import LayoutStore
from tests.fixtures import expected
from tests.prune_support import OLD, age_all_blobs, blob_digests, copy_fixture, reachable_ok

TWICE = expected("buildkit")["fixtures"]["local-max-twice"]


@pytest.fixture
def twice(tmp_path: Path) -> Path:
    return copy_fixture("local-max-twice", tmp_path / "local-max-twice")


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def test_gc_deletes_exactly_the_unreferenced_blobs_of_local_max_twice(twice: Path) -> None:
    age_all_blobs(twice)
    before = blob_digests(twice)
    store = LayoutStore(twice)
    plan = plan_gc(store, grace=timedelta(minutes=10))
    assert sorted(blob.digest for blob in plan.blobs) == sorted(TWICE["unreferencedBlobs"])
    assert plan.bytes == 640_213
    assert plan.spared == ()
    result = asyncio.run(apply_gc(store, plan))
    assert result.ok
    assert result.bytes == 640_213
    assert sorted(b.digest for b in result.deleted) == sorted(TWICE["unreferencedBlobs"])
    assert blob_digests(twice) == before - set(TWICE["unreferencedBlobs"])
    assert len(blob_digests(twice)) == 11
    assert reachable_ok(twice) == []
    # Nothing left to do.
    assert plan_gc(store, grace=timedelta(0)).blobs == ()


def test_gc_spares_blobs_younger_than_the_grace_period(twice: Path) -> None:
    age_all_blobs(twice, time.time())  # just written: a build could be about to tag them
    store = LayoutStore(twice)
    plan = plan_gc(store)
    assert plan.blobs == ()
    assert sorted(b.digest for b in plan.spared) == sorted(TWICE["unreferencedBlobs"])
    before = blob_digests(twice)
    result = asyncio.run(apply_gc(store, plan))
    assert result.deleted == []
    assert blob_digests(twice) == before
    # Even a plan that lists them (made with grace 0) keeps a blob that became young again.
    old_plan = plan_gc(store, grace=timedelta(0))
    swept = sweep_sync(store, [b.digest for b in old_plan.blobs], [], grace=timedelta(hours=1))
    assert swept.deleted == []
    assert {why for _, why in swept.kept} == {"younger than the grace period"}


def test_gc_cleans_stale_ingest_entries_only(twice: Path) -> None:
    age_all_blobs(twice)
    ingest = twice / "ingest"
    for name, mtime in (("stale", OLD), ("fresh", None)):
        entry = ingest / name
        entry.mkdir(parents=True)
        for file in ("data", "ref", "startedat", "updatedat", "total"):
            (entry / file).write_bytes(b"x")
            if mtime is not None:
                os.utime(entry / file, (mtime, mtime))
    store = LayoutStore(twice)
    plan = plan_gc(store)
    assert [e.name for e in plan.ingest] == ["stale"]
    assert [e.name for e in plan.ingest_spared] == ["fresh"]
    result = asyncio.run(apply_gc(store, plan))
    assert result.ingest_deleted == ["stale"]
    assert sorted(p.name for p in ingest.iterdir()) == ["fresh"]


def test_gc_refuses_when_a_reachable_manifest_cannot_be_read(twice: Path) -> None:
    age_all_blobs(twice)
    index = json.loads((twice / "index.json").read_bytes())
    manifest = twice / "blobs" / "sha256" / index["manifests"][0]["digest"][7:]
    data = manifest.read_bytes()
    manifest.write_bytes(data[:-1] + b"!")  # same size, wrong digest
    before = blob_digests(twice)
    with pytest.raises(LayoutError, match="refusing to collect garbage"):
        plan_gc(LayoutStore(twice))
    with pytest.raises(LayoutError, match="refusing"):
        sweep_sync(LayoutStore(twice), sorted(before), [], grace=timedelta(0))
    assert blob_digests(twice) == before
    code, _ = run_cli("gc", str(twice), "--yes", "--grace", "0s")
    assert code == 1
    assert blob_digests(twice) == before


def test_gc_redecides_under_the_lock_and_keeps_newly_tagged_blobs(twice: Path) -> None:
    age_all_blobs(twice)
    store = LayoutStore(twice)
    plan = plan_gc(store)
    assert len(plan.blobs) == 5
    # Between plan and apply, an export re-tags the old manifest (as BuildKit's client would).
    old = "sha256:ddf297880d479245771d21932d59441b48565fdebeee2a04baf958050fddb04b"
    index = json.loads((twice / "index.json").read_bytes())
    index["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "digest": old, "size": 3208,
                               "annotations": {"org.opencontainers.image.ref.name": "v1"}})
    (twice / "index.json").write_bytes(json.dumps(index).encode())
    result = asyncio.run(apply_gc(store, plan))
    assert result.deleted == []
    assert len(result.kept) == 5
    assert {why for _, why in result.kept} == {"reachable from index.json now"}
    assert reachable_ok(twice) == []


def test_gc_waits_for_buildkits_index_lock(twice: Path) -> None:
    age_all_blobs(twice)
    store = LayoutStore(twice)
    plan = plan_gc(store)
    finished = threading.Event()

    def sweep() -> None:
        sweep_sync(store, [b.digest for b in plan.blobs], [], grace=timedelta(0))
        finished.set()

    with flocked(store.lock_path, exclusive=True, required=True):
        worker = threading.Thread(target=sweep)
        worker.start()
        assert not finished.wait(0.3), "gc deleted blobs while an export held index.json.lock"
        assert len(blob_digests(twice)) == 16
    worker.join(10)
    assert finished.is_set()
    assert len(blob_digests(twice)) == 11


def test_gc_cli_dry_run_is_the_default(twice: Path) -> None:
    age_all_blobs(twice)
    code, out = run_cli("gc", str(twice))
    assert code == 0
    assert "5 unreferenced blobs (625.2 KiB) to delete" in out
    assert "Dry run" in out
    assert len(blob_digests(twice)) == 16


def test_gc_cli_json_plan_and_result(twice: Path) -> None:
    age_all_blobs(twice)
    code, out = run_cli("gc", str(twice), "--yes", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["dry_run"] is False
    assert data["plans"][0]["bytes"] == 640_213
    assert sorted(data["results"][0]["deleted"]) == sorted(TWICE["unreferencedBlobs"])
    assert data["results"][0]["ok"] is True
    assert reachable_ok(twice) == []


def test_gc_cli_rejects_tags_and_bad_grace(twice: Path, tmp_path: Path) -> None:
    assert run_cli("gc", f"{twice}:latest")[0] == 1
    assert run_cli("gc", str(twice), "--grace", "soon")[0] == 2  # a bad option value is a usage error
    assert run_cli("gc", str(tmp_path / "missing"))[0] == 1
    assert run_cli("gc", str(twice), "--yes", "--dry-run")[0] == 2


def test_gc_deletes_old_temp_files_of_interrupted_writes_and_nothing_else(twice: Path) -> None:
    """A kill between write and rename leaves ``.cachetui-*.tmp`` files; gc sweeps the old ones."""
    blobs = twice / "blobs" / "sha256"
    old_blob_tmp = blobs / ".cachetui-0123456789abcdef-a1b2c3d4e5f6.tmp"
    old_index_tmp = twice / ".cachetui-index.json-a1b2c3d4e5f6.tmp"
    fresh_tmp = blobs / ".cachetui-fedcba9876543210-a1b2c3d4e5f6.tmp"
    lookalike = blobs / "cachetui-not-ours.tmp"
    for path in (old_blob_tmp, old_index_tmp, fresh_tmp, lookalike):
        path.write_bytes(b"partial")
    for path in (old_blob_tmp, old_index_tmp, lookalike):
        os.utime(path, (OLD, OLD))
    store = LayoutStore(twice)
    plan = plan_gc(store, grace=timedelta(minutes=10))
    assert sorted(entry.name for entry in plan.ingest) == [
        old_index_tmp.name, f"blobs/sha256/{old_blob_tmp.name}"]
    assert [entry.name for entry in plan.ingest_spared] == [f"blobs/sha256/{fresh_tmp.name}"]
    result = asyncio.run(apply_gc(store, plan))
    assert result.ok and sorted(result.ingest_deleted) == sorted(e.name for e in plan.ingest)
    assert not old_blob_tmp.exists() and not old_index_tmp.exists()
    assert fresh_tmp.exists() and lookalike.exists()
    assert reachable_ok(twice) == []


def test_gc_refuses_leftover_names_that_point_elsewhere(twice: Path) -> None:
    outside = twice.parent / ".cachetui-victim.tmp"
    outside.write_bytes(b"keep me")
    os.utime(outside, (OLD, OLD))
    store = LayoutStore(twice)
    result = sweep_sync(store, [], ["../.cachetui-victim.tmp", "blobs/../../.cachetui-victim.tmp",
                                    "blobs/sha256/x/.cachetui-a.tmp"], grace=timedelta(0))
    assert [name for name, _ in result.ingest_failed] == [
        "../.cachetui-victim.tmp", "blobs/../../.cachetui-victim.tmp",
        "blobs/sha256/x/.cachetui-a.tmp"]
    assert outside.exists()

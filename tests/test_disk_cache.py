"""The on-disk cache of manifests and configs (issue 13 item 3): a second listing of an unchanged
repository only resolves tags; a changed tag is read again; damaged, concurrent and oversized
cases stay correct; ``--no-cache`` and ``cache clear`` work."""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cachetui.cli import main
from cachetui.ops.inventory import collect, scan_store
from cachetui.ops.load import DocumentMemo
from cachetui.store.diskcache import (
    BUSY_SECONDS,
    DATABASE,
    FLUSH_OBJECTS,
    MAX_WAITING_BATCHES,
    DiskCache,
    default_cache,
)
from cachetui.store.registry import RegistrySession
from tests.fixtures import REPO_ROOT, fixture_dir
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, push_layout, unique_repo
from tests.test_registry_inventory import LAYOUTS, Counting


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def _fill(host: str, repo: str) -> None:
    async with RegistrySession(fast_settings()) as session:
        store = session.store(host, repo)
        for name, source in LAYOUTS.items():
            for i in range(2):
                await push_layout(store, fixture_dir("buildkit-registry", name), f"{source}-{i}",
                                  source)


async def _scan(host: str, repo: str, disk: DiskCache | None) -> tuple[Counter[tuple[str, str]],
                                                                      dict[str, str | None]]:
    counting = Counting()
    async with RegistrySession(fast_settings(), transport=counting) as session:
        entries, errors, _ = await collect(scan_store(session.store(host, repo),
                                                      memo=DocumentMemo(disk)))
    assert errors == []
    return counting.calls, {entry.tag: entry.digest for entry in entries}


async def test_second_listing_only_resolves_tags(registry: RunningRegistry, tmp_path: Path) -> None:
    repo = unique_repo("warm")
    await _fill(registry.host, repo)
    disk = DiskCache(tmp_path / "cache")
    cold, first = await _scan(registry.host, repo, disk)
    assert cold[("GET", "manifest")] == 6 and cold[("GET", "blob")] == 3
    warm, second = await _scan(registry.host, repo, DiskCache(tmp_path / "cache"))
    assert second == first
    assert warm == Counter({("GET", f"/v2/{repo}/tags/list"): 1, ("HEAD", "manifest"): 6})
    # A tag moved to another cache: that tag's manifest is read; its config is already cached.
    async with RegistrySession(fast_settings()) as session:
        await push_layout(session.store(registry.host, repo),
                          fixture_dir("buildkit-registry", "app-inline"), "latest-0", "inline")
    moved, third = await _scan(registry.host, repo, DiskCache(tmp_path / "cache"))
    assert third["latest-0"] == first["inline-0"] != first["latest-0"]
    assert moved[("HEAD", "manifest")] == 6
    assert moved[("GET", "blob")] == 0
    # Without the disk cache: the cold pattern again.
    off, _ = await _scan(registry.host, repo, None)
    assert off == cold


def test_damaged_objects_are_misses_and_removed(tmp_path: Path) -> None:
    disk = DiskCache(tmp_path)
    data = b'{"schemaVersion":2}'
    disk.put(digest_of(data), data)
    assert disk.get(digest_of(data)) == data
    disk.put(digest_of(b"other"), b"not other")  # a wrong digest is never stored
    assert disk.get(digest_of(b"other")) is None
    disk.flush()
    with sqlite3.connect(disk.path) as db:  # a row damaged on disk
        db.execute("update objects set data = ? where digest = ?", (b"damaged", digest_of(data)))
    assert disk.get(digest_of(data)) is None
    assert disk.usage() == (0, 0)  # removed, not kept as a miss forever
    assert disk.get("sha256:../../etc") is None


def test_a_damaged_database_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / DATABASE).write_bytes(b"this is not an SQLite database" * 200)
    disk = DiskCache(tmp_path)
    data = b"kept after all"
    disk.put(digest_of(data), data)
    disk.flush()
    assert DiskCache(tmp_path).get(digest_of(data)) == data


def test_an_unusable_cache_costs_only_the_warm_start(tmp_path: Path) -> None:
    """A cache directory that cannot be written, or a database that is a symbolic link (it could
    point anywhere), is a cache that misses: no error, nothing written through the link."""
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / DATABASE).symlink_to(target)
    blocked = tmp_path / "a-file-not-a-directory"
    blocked.write_bytes(b"")
    for disk in (DiskCache(linked), DiskCache(blocked / "cache")):
        disk.put(digest_of(b"x"), b"x")
        assert disk.get(digest_of(b"x")) is None
        disk.remember_tags("r/x", {"t": digest_of(b"x")})
        assert disk.known_tags("r/x") == {}
        assert disk.usage() == (0, 0)
    assert target.read_bytes() == b""


def test_a_commit_waiting_for_another_process_never_holds_the_caller(tmp_path: Path) -> None:
    """Writes are committed by the cache's own thread: while another process holds the write
    lock, a listing's ``put`` past the batch size returns at once (it used to wait the busy
    timeout, on the event loop) and what it wrote is read back meanwhile; it is committed once
    the lock is free."""
    disk = DiskCache(tmp_path)
    disk.put(digest_of(b"first"), b"first")
    disk.flush()  # the database and its tables exist
    other = sqlite3.connect(tmp_path / DATABASE, isolation_level=None)
    other.execute("begin immediate")  # another process writing
    blobs = [os.urandom(64) for _ in range(FLUSH_OBJECTS)]
    started = time.monotonic()
    for blob in blobs:
        disk.put(digest_of(blob), blob)
    tags = {"t": digest_of(blobs[0])}
    disk.remember_tags("host/repo", tags)
    took = time.monotonic() - started
    assert took < BUSY_SECONDS / 4, took
    assert disk.get(digest_of(blobs[-1])) == blobs[-1]  # handed over, not committed yet
    assert disk.known_tags("host/repo") == tags
    other.execute("commit")
    other.close()
    disk.flush()
    fresh = DiskCache(tmp_path)
    assert all(fresh.get(digest_of(blob)) == blob for blob in blobs)
    assert fresh.known_tags("host/repo") == tags


def test_writes_waiting_for_a_long_lock_stay_bounded(tmp_path: Path) -> None:
    """While another process holds the write lock for long, at most MAX_WAITING_BATCHES batches
    wait in memory; later writes are dropped (misses), the cache still works afterwards."""
    disk = DiskCache(tmp_path)
    disk.put(digest_of(b"first"), b"first")
    disk.flush()
    other = sqlite3.connect(tmp_path / DATABASE, isolation_level=None, timeout=0)
    other.execute("begin immediate")
    blobs = [os.urandom(64) for _ in range(FLUSH_OBJECTS * (MAX_WAITING_BATCHES + 3))]
    for blob in blobs:
        disk.put(digest_of(blob), blob)
    assert len(disk._handed) <= MAX_WAITING_BATCHES
    assert disk.get(digest_of(blobs[0])) == blobs[0]  # the first batches wait, readable
    assert disk.get(digest_of(blobs[-1])) is None  # past the bound: dropped, a miss
    other.execute("commit")
    other.close()
    disk.flush()
    assert DiskCache(tmp_path).get(digest_of(blobs[0])) == blobs[0]


def test_eviction_keeps_the_most_recently_used(tmp_path: Path) -> None:
    now = [1000.0]
    disk = DiskCache(tmp_path, max_bytes=10_000, clock=lambda: now[0])
    blobs = [os.urandom(1000) for _ in range(13)]
    for blob in blobs[:9]:
        now[0] += 1
        disk.put(digest_of(blob), blob)
    now[0] += 1
    assert disk.get(digest_of(blobs[0])) == blobs[0]  # used now: newest
    for blob in blobs[9:]:
        now[0] += 1
        disk.put(digest_of(blob), blob)
    disk.evict()  # puts evict as they go too (every eighth of the bound written)
    count, size = disk.usage()
    assert size <= 10_000 and count < 13
    assert disk.get(digest_of(blobs[0])) == blobs[0]
    assert disk.get(digest_of(blobs[1])) is None  # least recently used: gone
    assert disk.get(digest_of(blobs[-1])) == blobs[-1]


def test_the_old_file_per_object_layout_is_removed(tmp_path: Path) -> None:
    (tmp_path / "objects" / "sha256" / "ab").mkdir(parents=True)
    (tmp_path / "objects" / "sha256" / "ab" / "abcd").write_bytes(b"old")
    (tmp_path / "tags").mkdir()
    DiskCache(tmp_path).evict()
    assert not (tmp_path / "objects").exists() and not (tmp_path / "tags").exists()


def _writer(root: str, seed: int) -> None:
    disk = DiskCache(Path(root), max_bytes=200_000)
    for index in range(300):
        data = (f"{index % 50}".encode()) * 500
        disk.put(digest_of(data), data)
        got = disk.get(digest_of(data))
        assert got is None or got == data
        disk.remember_tags("r/x", {f"t{index % 7}": digest_of(data)})
        assert all(d.startswith("sha256:") for d in disk.known_tags("r/x").values())
        if index % 40 == seed:
            disk.evict()
    assert disk.hits > 0  # the cache stayed usable under the other writers


def test_concurrent_processes_never_see_partial_objects(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(tmp_path), seed)) for seed in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    with sqlite3.connect(tmp_path / DATABASE) as db:
        rows = db.execute("select digest, data from objects").fetchall()
    assert rows and all(digest_of(data) == digest for digest, data in rows)


def test_no_cache_and_cache_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CACHETUI_CACHE_DIR", str(tmp_path))
    disk = default_cache()
    assert disk is not None and disk.root == tmp_path
    disk.put(digest_of(b"x" * 100), b"x" * 100)
    disk.flush()
    assert main(["cache", "info"]) == 0
    assert "1 objects" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    assert DiskCache(tmp_path).usage() == (0, 0)
    monkeypatch.setenv("CACHETUI_NO_CACHE", "1")
    assert default_cache() is None
    monkeypatch.delenv("CACHETUI_NO_CACHE")
    monkeypatch.setattr("cachetui.store.diskcache._DISABLED", False)
    assert main(["ls", "--no-cache", str(fixture_dir("buildkit", "local-min"))]) == 0
    assert default_cache() is None


async def test_a_cache_directory_is_not_copied_into_the_disk_cache(tmp_path: Path) -> None:
    """A directory store reads local files already: the disk cache is asked by capability
    (ReadsLocalFiles), not by store kind, and stays empty after listing one."""
    from cachetui.store.layout import LayoutStore

    disk = DiskCache(tmp_path / "disk")
    store = LayoutStore(fixture_dir("buildkit", "local-max"), read_only=True)
    entries, errors, _ = await collect(scan_store(store, memo=DocumentMemo(disk)))
    assert errors == [] and entries
    written = [p for p in (tmp_path / "disk").rglob("*") if p.is_file()]
    assert written == [] and disk.usage() == (0, 0)



async def _push_one(host: str, repo: str) -> list[str]:
    """Push one cache; the digests of its manifest and its config."""
    async with RegistrySession(fast_settings()) as session:
        top = await push_layout(session.store(host, repo),
                                fixture_dir("buildkit-registry", "app-buildcache-min"), "cache",
                                "buildcache-min")
    return [top.digest, top.children()[0].digest]


def test_the_script_commits_what_it_read_before_its_fast_exit(registry: RunningRegistry,
                                                               tmp_path: Path) -> None:
    """``inspect HOST/REPO:TAG`` reads a manifest and a config: the script keeps both although it
    leaves with ``os._exit`` (before, the exit skipped the commit kept for the exit handlers and
    the disk cache stayed empty after every command but ``ls``)."""
    repo = unique_repo("exit")
    read = asyncio.run(_push_one(registry.host, repo))
    done = subprocess.run([sys.executable, "-m", "cachetui", "inspect",
                           f"{registry.host}/{repo}:cache"], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=120, check=False,
                          env={**os.environ, "CACHETUI_CACHE_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / DATABASE) as db:
        kept = {digest for (digest,) in db.execute("select digest from objects")}
    assert kept == set(read)

"""gc, repair and touch on object stores: exact orphans, grace periods, kills at random points."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import subprocess
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cachetui.buildkit.annotated import GO_ZERO_TIME
from cachetui.buildkit.cacheconfig import (
    CacheConfig,
    CacheLayer,
    CacheRecord,
    CacheResult,
    LayerAnnotations,
    encode_cache_config,
)
from cachetui.errors import NotFound
from cachetui.oci import mediatypes as mt
from cachetui.ops.objgc import (
    apply_object_gc,
    apply_repair,
    apply_touch,
    plan_object_gc,
    plan_repair,
    plan_touch,
)
from cachetui.ops.objscan import PrefixReport, scan_prefix
from cachetui.store.objects import KeyLayout, ObjectInfo, ObjectStore
from tests.backend_fixtures import facts
from tests.objstore_procs import REPO, Azurite, Moto, load_s3
from tests.objstore_servers import az_loaded, s3_loaded, s3_settings, unique_name


async def test_gc_on_two_builds_deletes_exactly_the_old_orphans(moto: Moto) -> None:
    info = facts("s3", "two-builds")
    store = s3_loaded(moto, "two-builds")
    young = await plan_object_gc(store)  # just uploaded: all inside the 1 h grace period
    assert young.delete == ()
    assert [o.key for o in young.spared] == [o["key"] for o in info["orphanedBlobs"]]
    later = datetime.now(UTC) + timedelta(hours=2)
    plan = await plan_object_gc(store, now=later)
    assert [o.key for o in plan.delete] == [o["key"] for o in info["orphanedBlobs"]]
    assert plan.bytes == info["orphanedBytes"]
    result = await apply_object_gc(plan, store)
    assert [o.key for o in result.deleted] == [o["key"] for o in info["orphanedBlobs"]]
    assert not result.failed
    report = await scan_prefix(store)
    assert report.orphans == ()
    assert all(not m.missing for m in report.manifests)
    assert len(report.blobs) == info["blobCount"] - 4
    await store.aclose()


async def test_gc_keeps_a_planned_orphan_that_a_new_manifest_names(moto: Moto) -> None:
    store = s3_loaded(moto, "two-builds")
    plan = await plan_object_gc(store, now=datetime.now(UTC) + timedelta(hours=2))
    victim = plan.delete[0]
    # A build names the orphan again between plan and apply.
    raw = await store.read_annotated("main")
    config = CacheConfig(layers=[CacheLayer(blob=victim.digest, parent=-1, annotations=(
        LayerAnnotations(mt.OCI_LAYER_GZIP, "sha256:" + "d" * 64, victim.size, GO_ZERO_TIME)))],
        records=[CacheRecord(layers=(CacheResult(layer=0, created_at=GO_ZERO_TIME),),
                             digest="sha256:" + "e" * 64)])
    await store.put_annotated("new", encode_cache_config(config))
    result = await apply_object_gc(plan, store)
    assert (victim.key, "a manifest names it now") in result.kept
    assert victim.digest in (await store.blob_objects())
    assert await store.read_annotated("main") == raw
    await store.aclose()


async def test_repair_deletes_manifests_with_dangling_references(moto: Moto) -> None:
    store = s3_loaded(moto, "dangling")
    plan = await plan_repair(store)
    assert [m.name for m in plan.broken] == ["buildkit"]
    assert len(plan.broken[0].missing) == 2
    assert await apply_repair(plan, store) == ["buildkit"]
    assert await store.list_tags() == []
    await store.aclose()


async def test_touch_moves_last_modified_of_the_blobs_kept_manifests_use(moto: Moto) -> None:
    store = s3_loaded(moto, "two-builds")
    before = await store.blob_objects()
    await asyncio.sleep(1.1)  # LastModified has whole seconds
    plan = await plan_touch(store, ["release"])
    assert len(plan.blobs) == 9
    assert await apply_touch(plan, store) == 9
    after = await store.blob_objects()
    moved = {d for d in before if after[d].last_modified > before[d].last_modified}
    assert moved == set(plan.blobs)
    for digest in plan.blobs:  # bytes unchanged, still verified on read
        assert after[digest].size == before[digest].size
    await store.aclose()


# -- the property: random buckets with shared blobs, in memory -----------------------------------

class MemoryBackend:
    """An in-memory bucket with controllable LastModified, for the hypothesis property."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, datetime]] = {}

    @property
    def description(self) -> str:
        return "mem://bucket"

    async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        for key in sorted(self.objects):
            if key.startswith(prefix):
                data, modified = self.objects[key]
                yield ObjectInfo(key, len(data), modified)

    async def head(self, key: str) -> ObjectInfo | None:
        if key not in self.objects:
            return None
        data, modified = self.objects[key]
        return ObjectInfo(key, len(data), modified)

    async def get(self, key: str) -> AsyncIterator[bytes]:
        if key not in self.objects:
            raise NotFound("no such key", where=key)
        yield self.objects[key][0]

    async def put(self, key: str, chunks: AsyncIterable[bytes], size: int,
                  check: Callable[[], None]) -> None:
        data = b"".join([c async for c in chunks])
        check()
        self.objects[key] = (data, datetime.now(UTC))

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    async def touch(self, key: str) -> None:
        data, _ = self.objects[key]
        self.objects[key] = (data, datetime.now(UTC))

    async def aclose(self) -> None:
        return None


def _blob(n: int) -> tuple[str, bytes]:
    data = f"blob-{n}".encode()
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def _manifest(blobs: list[str]) -> bytes:
    layers = [CacheLayer(blob=d, parent=i - 1, annotations=LayerAnnotations(
        mt.OCI_LAYER_GZIP, "sha256:" + hashlib.sha256(d.encode()).hexdigest(), 7, GO_ZERO_TIME))
        for i, d in enumerate(blobs)]
    records = [CacheRecord(layers=(CacheResult(layer=len(blobs) - 1, created_at=GO_ZERO_TIME),),
                           digest="sha256:" + hashlib.sha256(b"".join(
                               d.encode() for d in blobs)).hexdigest())]
    return encode_cache_config(CacheConfig(layers=layers, records=records))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_blobs=st.integers(1, 12),
    manifests=st.lists(st.lists(st.integers(0, 11), min_size=1, max_size=6, unique=True),
                       max_size=5),
    ages=st.lists(st.integers(0, 180), min_size=12, max_size=12),
    grace_minutes=st.integers(0, 120),
)
def test_gc_deletes_exactly_the_orphans_older_than_the_grace_period(
        n_blobs: int, manifests: list[list[int]], ages: list[int], grace_minutes: int) -> None:
    backend = MemoryBackend()
    layout = KeyLayout("concat")
    now = datetime.now(UTC)
    digests = []
    for n in range(n_blobs):
        digest, data = _blob(n)
        digests.append(digest)
        backend.objects[layout.blob_key(digest)] = (data, now - timedelta(minutes=ages[n]))
    named: set[str] = set()
    for position, members in enumerate(manifests):
        chosen = [digests[m] for m in members if m < n_blobs]
        if not chosen:
            continue
        named.update(chosen)
        backend.objects[layout.manifest_key(f"m{position}")] = (_manifest(chosen), now)
    grace = timedelta(minutes=grace_minutes)
    store = ObjectStore(backend, layout, kind="s3")

    async def run() -> tuple[set[str], set[str]]:
        plan = await plan_object_gc(store, grace=grace, now=now)
        result = await apply_object_gc(plan, store)
        return {o.digest for o in result.deleted}, set(await store.blob_objects())

    deleted, left = asyncio.run(run())
    expected = {d for n, d in enumerate(digests)
                if d not in named and timedelta(minutes=ages[n]) >= grace}
    assert deleted == expected
    assert named <= left  # nothing a manifest references is ever deleted
    assert left == set(digests) - expected


# -- SIGKILL at random points ---------------------------------------------------------------------

CHILD = """
import asyncio, os, sys
from datetime import UTC, datetime, timedelta
sys.path.insert(0, os.environ["REPO"])
from cachetui.ops.objgc import apply_object_gc, plan_object_gc
from cachetui.store.s3 import S3Settings, S3Store

async def main() -> None:
    store = S3Store(S3Settings(bucket=os.environ["BUCKET"], region="us-east-1",
                               endpoint_url=os.environ["ENDPOINT"], use_path_style=True,
                               access_key_id=os.environ["AK"], secret_access_key=os.environ["SK"]))
    plan = await plan_object_gc(store, now=datetime.now(UTC) + timedelta(hours=2))
    print("planned", len(plan.delete), flush=True)
    await apply_object_gc(plan, store)
    print("done", flush=True)
    await store.aclose()

asyncio.run(main())
"""


def _start_gc_child(moto: Moto) -> tuple[str, subprocess.Popen[bytes]]:
    """A child gc of a fresh two-builds bucket, returned once it has planned (it then deletes:
    the part a kill must never make unsafe)."""
    bucket = unique_name("kill")
    load_s3(moto, bucket, "two-builds")
    env = {**os.environ, "REPO": str(REPO), "BUCKET": bucket, "ENDPOINT": moto.endpoint,
           "AK": moto.access_key, "SK": moto.secret_key}
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line.startswith(b"planned"):
        _, err = child.communicate()
        raise AssertionError(f"the gc child did not plan: {err.decode(errors='replace')}")
    return bucket, child


def test_gc_killed_at_random_points_never_breaks_a_manifest(moto: Moto) -> None:
    # Kill points are drawn over the deletion itself, as long as it took here, once, uncut: a
    # fixed window (0.3-1.6 s from the start) missed it on a fast machine, killing nothing.
    _, child = _start_gc_child(moto)
    started = time.monotonic()
    child.communicate()
    deleting = time.monotonic() - started
    rng = random.Random(11)
    outcomes = {"killed": 0, "finished": 0}
    for _ in range(20):
        bucket, child = _start_gc_child(moto)
        time.sleep(rng.uniform(0.0, 1.5 * deleting))
        if child.poll() is None:
            child.kill()
            outcomes["killed"] += 1
        else:
            outcomes["finished"] += 1
        child.communicate()
        report = asyncio.run(_scan_bucket(moto, bucket))
        assert [m.name for m in report.manifests] == ["main", "release"]
        assert all(not m.missing for m in report.manifests), bucket
    assert outcomes["killed"] >= 1, (outcomes, deleting)


async def _scan_bucket(moto: Moto, bucket: str) -> PrefixReport:
    store = s3_loaded_existing(moto, bucket)
    try:
        return await scan_prefix(store)
    finally:
        await store.aclose()


def s3_loaded_existing(moto: Moto, bucket: str) -> ObjectStore:
    from cachetui.store.s3 import S3Store

    return S3Store(s3_settings(moto, bucket))


@pytest.mark.parametrize("variant", ["two-builds"])
def test_facts_of_the_kill_fixture(variant: str) -> None:
    assert len(facts("s3", variant)["orphanedBlobs"]) == 4


async def test_prune_deletes_one_name_at_a_time_and_leaves_blobs_to_gc(moto: Moto) -> None:
    from cachetui.ops.policy import Policy
    from cachetui.ops.prune import apply_prune, plan_prune

    store = s3_loaded(moto, "multi-name", prefix="proj/")
    # main and pr-42 hold the same bytes (one digest): deleting pr-42 must keep main.
    plan = await plan_prune([(store, [])], Policy(match=("pr-*",), keep=0))
    (source,) = plan.sources
    assert [item.tag for item in source.active] == ["pr-42"]
    assert all(not item.collateral for item in source.active)
    assert any("cachetui gc" in note for note in source.notes)
    result = await apply_prune({store.location: store}, plan)
    assert [i.status for i in result.sources[0].items] == ["deleted"]
    assert await store.list_tags() == ["main"]
    assert len(await store.blob_objects()) == 3
    await store.aclose()


async def test_azblob_gc_and_touch_on_two_builds(azurite: Azurite) -> None:
    info = facts("azblob", "two-builds")
    store = await az_loaded(azurite, "two-builds")
    plan = await plan_object_gc(store, now=datetime.now(UTC) + timedelta(hours=2))
    assert [o.key for o in plan.delete] == [o["key"] for o in info["orphanedBlobs"]]
    result = await apply_object_gc(plan, store)
    assert result.bytes == info["orphanedBytes"] and not result.failed
    before = await store.blob_objects()
    await asyncio.sleep(1.1)
    touch = await plan_touch(store, ["main"])
    assert await apply_touch(touch, store) == 9
    after = await store.blob_objects()
    assert {d for d in before if after[d].last_modified > before[d].last_modified} \
        == set(touch.blobs)
    report = await scan_prefix(store)
    assert report.orphans == () and all(not m.missing for m in report.manifests)
    await store.aclose()


def test_a_read_only_object_store_gc_deletes_nothing() -> None:
    """read_only (the workspace opens s3/azblob read-only per the config): the store refuses."""
    from cachetui.errors import ReadOnlySource

    backend = MemoryBackend()
    layout = KeyLayout("concat")
    old = datetime.now(UTC) - timedelta(days=2)
    digest, data = _blob(0)
    backend.objects[layout.blob_key(digest)] = (data, old)  # an orphan, old enough to go
    store = ObjectStore(backend, layout, kind="s3")
    store.read_only = True

    async def run() -> None:
        plan = await plan_object_gc(store, grace=timedelta(0))
        try:
            result = await apply_object_gc(plan, store)
        except ReadOnlySource:
            return
        assert not result.deleted

    asyncio.run(run())
    assert layout.blob_key(digest) in backend.objects

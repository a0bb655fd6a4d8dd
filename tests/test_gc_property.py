"""Property: over random multi-tag directories with shared blobs, prune and gc never delete a blob a
surviving tag reaches, and always delete the unreachable ones older than the grace period."""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cachetui.ops.gc import apply_gc, plan_gc
from cachetui.ops.policy import Policy
from cachetui.ops.prune import apply_prune, plan_prune
from cachetui.store.layout import LayoutStore
from tests.prune_support import (
    OLD,
    blob_digests,
    cache_manifest,
    put_blob,
    reachable_ok,
    reachable_set,
    write_index,
)

NOW = datetime.now(UTC)
GRACE = timedelta(minutes=10)

tag_names = st.sampled_from(["main", "dev", "pr-1", "pr-2", "release", "nightly"])
layouts = st.fixed_dictionaries({
    "tags": st.dictionaries(tag_names, st.tuples(
        st.lists(st.integers(0, 7), min_size=1, max_size=4),  # layer indices into a shared pool
        st.integers(0, 60),                                   # age in days
        st.booleans(),                                        # alias of the previous tag's manifest
    ), min_size=1, max_size=5),
    "garbage": st.lists(st.integers(0, 7), max_size=4),
    "young_seed": st.integers(0, 2**32 - 1),
    "young_share": st.sampled_from([0.0, 0.3, 1.0]),
})


def build(root: Path, spec: dict[str, Any]) -> None:
    tags: dict[str, tuple[str, int]] = {}
    previous: tuple[str, int] | None = None
    for name, (layers, age, alias) in spec["tags"].items():
        if alias and previous is not None:
            tags[name] = previous
            continue
        pool = [f"layer-{i}".encode() * (i + 1) for i in layers]
        previous = tags[name] = cache_manifest(root, pool, NOW - timedelta(days=age), salt=name)
    write_index(root, tags)
    for i in spec["garbage"]:
        put_blob(root, f"garbage-{i}".encode())
        # an old manifest of a tag that moved: it names shared layers, but nothing tags it
        cache_manifest(root, [f"layer-{i}".encode() * (i + 1)], NOW, salt=f"stale-{i}")
    chooser = random.Random(spec["young_seed"])
    now = time.time()
    for path in sorted((root / "blobs" / "sha256").iterdir()):
        young = chooser.random() < spec["young_share"]
        stamp = now if young else OLD
        os.utime(path, (stamp, stamp))


def check(root: Path, before: dict[str, float]) -> None:
    assert reachable_ok(root) == []
    reach = reachable_set(root)
    left = blob_digests(root)
    cutoff = time.time() - GRACE.total_seconds()
    for digest, mtime in before.items():
        if digest in reach:
            assert digest in left, f"deleted reachable blob {digest}"
        elif mtime <= cutoff:
            assert digest not in left, f"kept unreachable old blob {digest}"
        else:
            assert digest in left, f"deleted young blob {digest}"


def mtimes(root: Path) -> dict[str, float]:
    return {"sha256:" + p.name: p.stat().st_mtime for p in (root / "blobs" / "sha256").iterdir()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=layouts, chosen=st.sets(tag_names, max_size=3), keep=st.none() | st.integers(0, 3))
def test_prune_keeps_what_survivors_reach_and_collects_the_rest(
        spec: dict[str, Any], chosen: set[str], keep: int | None) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "cache"
        build(root, spec)
        before = mtimes(root)
        store = LayoutStore(root)
        tags = list(spec["tags"])
        named = [tag for tag in tags if tag in chosen]

        async def go() -> None:
            plan = await plan_prune([(store, named)], Policy(keep=keep, grace=GRACE))
            result = await apply_prune({store.location: store}, plan)
            assert result.ok, result
            gone = {item.tag for item in plan.sources[0].items}
            assert set(named) <= gone
            assert await store.list_tags() == sorted(tag for tag in tags if tag not in gone)

        asyncio.run(go())
        check(root, before)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=layouts)
def test_gc_keeps_what_tags_reach_and_collects_old_garbage(spec: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "cache"
        build(root, spec)
        before = mtimes(root)
        store = LayoutStore(root)
        result = asyncio.run(apply_gc(store, plan_gc(store, grace=GRACE)))
        assert result.ok
        check(root, before)

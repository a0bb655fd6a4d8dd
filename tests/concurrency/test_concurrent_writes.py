"""Concurrency suite (issue 10): real processes writing one cache directory at the same time.

gc against a copy into the same directory, two copies with different tags, prune against a
copy: 10 loops each, started with random offsets so the windows overlap differently every
time. After each loop every tag verifies (every blob it reaches exists and hashes right), the
new tags point at the expected manifests, and a bystander tag is untouched: zero broken tags.
gc and prune run with ``--grace 0s``, the hardest case (the grace period cannot help).
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from cachetui.demo.generator import CacheShape, write_cache
from cachetui.ops.copy import copy_cache
from cachetui.store.layout import LayoutStore
from tests.crash.harness import check_layout, cli, tree_hash
from tests.fixtures import REPO_ROOT, fixture_dir
from tests.prune_support import OLD, age_all_blobs

pytestmark = pytest.mark.slow

LOOPS = 10
SHAPE = CacheShape(layer_bytes=4 * 1024 * 1024, stages=3)
STALE = CacheShape(layer_bytes=4 * 1024 * 1024, stages=1)
"""Shares its layers with ``SHAPE`` (same seed), so a copy finds them "already there" early and
then spends a while moving the rest: the window in which a gc used to take the reused ones."""


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.Popen(cli(args), env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    _, err = process.communicate(timeout=180)
    return process.returncode, err.decode(errors="replace")


def _together(first: list[str], second: list[str], offset: float) -> list[tuple[int, str]]:
    """Start ``first``, then ``second`` ``offset`` seconds later; both run to their end."""
    one = _start(first)
    time.sleep(offset)
    two = _start(second)
    return [_finish(one), _finish(two)]


def _destination(root: Path, source: LayoutStore, stale_tags: tuple[str, ...]) -> Path:
    """A directory with a bystander tag ``other``, and an older cache sharing layers with the
    one copied (``source``) under ``stale_tags`` (or, with none, as untagged garbage), every
    blob old: what gc and prune may take."""
    if root.exists():
        shutil.rmtree(root)
    store = LayoutStore(root, create=True)
    asyncio.run(copy_cache(LayoutStore(fixture_dir("buildkit-variants", "zstd")), ["latest"],
                           store, "other"))
    for tag in stale_tags or ("stale",):
        asyncio.run(copy_cache(source, ["latest"], store, tag))
    if not stale_tags:
        asyncio.run(store.delete_tag("stale"))
    age_all_blobs(root, OLD)
    return root


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Two caches to copy (``a``, ``b``) and the older cache ``a`` shares layers with."""
    root = tmp_path_factory.mktemp("concurrency")
    write_cache(root / "a", "latest", SHAPE)
    write_cache(root / "b", "latest", CacheShape(layer_bytes=1024 * 1024, stages=3, seed=99))
    write_cache(root / "stale", "latest", STALE)
    return root / "a", root / "b", root / "stale"


def _expected(source: Path) -> str:
    return asyncio.run(LayoutStore(source).resolve("latest")).digest


def _check(destination: Path, expected: dict[str, str], gone: tuple[str, ...] = ()) -> None:
    state = check_layout(destination)  # every tag: blobs exist and verify
    other = asyncio.run(LayoutStore(fixture_dir("buildkit-variants", "zstd")).resolve("latest"))
    assert state.get("other") == other.digest
    for tag, digest in expected.items():
        assert state.get(tag) == digest, (tag, sorted(state))
    for tag in gone:
        assert tag not in state


def test_gc_against_a_concurrent_copy(tmp_path: Path, sources: tuple[Path, Path, Path]) -> None:
    source, _, stale = sources
    before = tree_hash(source)
    expected = _expected(source)
    rng = random.Random(1)
    for loop in range(LOOPS):
        destination = _destination(tmp_path / f"gc{loop % 2}", LayoutStore(stale), ())
        results = _together(["copy", str(source), f"{destination}:t"],
                            ["gc", str(destination), "--yes", "--grace", "0s"],
                            rng.uniform(0.0, 0.8))
        for code, err in results:
            assert code == 0, (loop, err)
        _check(destination, {"t": expected})
    assert tree_hash(source) == before


def test_two_concurrent_copies_with_different_tags(tmp_path: Path,
                                                   sources: tuple[Path, Path, Path]) -> None:
    a, b, _ = sources
    expected = {"a": _expected(a), "b": _expected(b), "a2": _expected(a)}
    rng = random.Random(2)
    for loop in range(LOOPS):
        destination = _destination(tmp_path / f"two{loop % 2}", LayoutStore(a), ())
        # Two sources into one directory, and (every other loop) the same source twice.
        second = [str(b), f"{destination}:b"] if loop % 2 == 0 else [str(a), f"{destination}:a2"]
        results = _together(["copy", str(a), f"{destination}:a"], ["copy", *second],
                            rng.uniform(0.0, 0.5))
        for code, err in results:
            assert code == 0, (loop, err)
        wanted = {"a": expected["a"]}
        wanted.update({"b": expected["b"]} if loop % 2 == 0 else {"a2": expected["a2"]})
        _check(destination, wanted)


def test_prune_against_a_concurrent_copy(tmp_path: Path,
                                         sources: tuple[Path, Path, Path]) -> None:
    source, _, stale_source = sources
    expected = _expected(source)
    rng = random.Random(3)
    stale = ("old-1", "old-2")
    for loop in range(LOOPS):
        destination = _destination(tmp_path / f"prune{loop % 2}", LayoutStore(stale_source),
                                   stale)
        results = _together(["copy", str(source), f"{destination}:new"],
                            ["prune", str(destination), "--match", "old-*", "--grace", "0s",
                             "--yes", "--include-shared-tags"],
                            rng.uniform(0.0, 0.8))
        for code, err in results:
            assert code == 0, (loop, err)
        _check(destination, {"new": expected}, gone=stale)

"""prune killed with SIGKILL at random points (20 runs): no tag is ever left broken.

A directory holds a bystander tag, four caches that ``--match 'old-*'`` selects and thousands of
old unreferenced blobs. Half the kills land at random times over the whole run, half while blobs
are being deleted. After each kill every tag that is left verifies, the bystander's blobs are
byte-identical, and running the same prune again completes with the selected tags gone.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cachetui.demo.generator import CacheShape, write_cache
from cachetui.ops.copy import copy_cache
from cachetui.store.layout import LayoutStore
from tests.crash.harness import check_layout, cli, run_to_end
from tests.fixtures import REPO_ROOT, fixture_dir
from tests.prune_support import OLD, age_all_blobs

pytestmark = pytest.mark.slow

RUNS = 20
GARBAGE = 1500
SELECTED = ("old-1", "old-2", "old-3", "old-4")


def _template(root: Path) -> None:
    store = LayoutStore(root, create=True)
    asyncio.run(copy_cache(LayoutStore(fixture_dir("buildkit-variants", "zstd")), ["latest"],
                           store, "keep"))
    for seed, tag in enumerate(SELECTED, start=1):
        write_cache(root, tag, CacheShape(layer_bytes=64 * 1024, stages=3, seed=seed))
    rng = random.Random(5)
    blobs = root / "blobs" / "sha256"
    for _ in range(GARBAGE):
        data = rng.randbytes(40)
        (blobs / hashlib.sha256(data).hexdigest()).write_bytes(data)
    age_all_blobs(root, OLD)


def _count(root: Path) -> int:
    with os.scandir(root / "blobs" / "sha256") as entries:
        return sum(1 for _ in entries)


def _kept_bytes(root: Path, keep: set[str]) -> str:
    digest = hashlib.sha256()
    for blob in sorted(keep):
        digest.update((root / "blobs" / "sha256" / blob[7:]).read_bytes())
    return digest.hexdigest()


def test_prune_killed_at_random_points_never_breaks_a_tag(tmp_path: Path) -> None:
    template = tmp_path / "template"
    _template(template)
    keep_digest = check_layout(template)["keep"]
    keep_blobs = _keep_reach(template)
    keep_bytes = _kept_bytes(template, keep_blobs)
    total = _count(template)
    command = ["prune", "--match", "old-*", "--grace", "0s", "--yes"]
    calibrate = tmp_path / "calibrate"
    shutil.copytree(template, calibrate, copy_function=os.link)
    full = run_to_end([command[0], str(calibrate), *command[1:]])
    rng = random.Random(2026)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    outcomes = {"killed": 0, "mid-delete": 0}
    for run in range(RUNS):
        target = tmp_path / f"run-{run % 2}"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(template, target, copy_function=os.link)  # prune unlinks names only
        process = subprocess.Popen(cli([command[0], str(target), *command[1:]]), env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        if run % 2 == 0:
            time.sleep(rng.uniform(0.2, 0.9) * full)
        else:
            while process.poll() is None and _count(target) == total:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.02))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            outcomes["killed"] += 1
            outcomes["mid-delete"] += _count(target) < total
        _, err = process.communicate(timeout=60)
        assert process.returncode in (0, -signal.SIGKILL), err.decode()
        state = check_layout(target)  # every tag left verifies
        assert state["keep"] == keep_digest
        assert _kept_bytes(target, keep_blobs) == keep_bytes
        run_to_end([command[0], str(target), *command[1:]])
        state = check_layout(target)
        assert sorted(state) == ["keep"], run
        assert _count(target) == len(keep_blobs)
    print(outcomes)
    assert outcomes["killed"] >= RUNS * 2 // 3, outcomes


def _keep_reach(root: Path) -> set[str]:
    """Blobs the bystander tag reaches."""
    store = LayoutStore(root)
    descriptor = asyncio.run(store.resolve("keep"))
    return store.reachability_sync(roots=[descriptor]).reachable

"""gc killed with SIGKILL at random points leaves a directory in which every tag still verifies."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures import REPO_ROOT
from tests.prune_support import OLD, age_all_blobs, blob_digests, copy_fixture, reachable_ok, reachable_set

RUNS = 30
GARBAGE = 6000


def make_template(root: Path) -> set[str]:
    """local-multi-tag (2 tags) plus thousands of small unreferenced blobs, all old."""
    copy_fixture("local-multi-tag", root)
    blobs = root / "blobs" / "sha256"
    rng = random.Random(7)
    for _ in range(GARBAGE):
        data = rng.randbytes(48)
        path = blobs / hashlib.sha256(data).hexdigest()
        path.write_bytes(data)
    age_all_blobs(root, OLD)
    return reachable_set(root)


def count_blobs(blobs: Path) -> int:
    with os.scandir(blobs) as entries:
        return sum(1 for _ in entries)


@pytest.mark.slow
def test_gc_killed_at_random_points_never_breaks_a_tag(tmp_path: Path) -> None:
    template = tmp_path / "template"
    reachable = make_template(template)
    total = count_blobs(template / "blobs" / "sha256")
    rng = random.Random(2026)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    partial = 0
    for run in range(RUNS):
        target = tmp_path / f"run-{run}"
        # Hard links: gc unlinks names, so the template's files are untouched.
        shutil.copytree(template, target, copy_function=os.link)
        blobs = target / "blobs" / "sha256"
        proc = subprocess.Popen(
            [sys.executable, "-m", "cachetui", "gc", str(target), "--yes", "--grace", "0s"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Wait until deletion has begun (or the run ended), then kill after a random extra delay.
        while proc.poll() is None and count_blobs(blobs) == total:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.03))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.stderr is not None
        stderr = proc.stderr.read().decode()
        proc.stderr.close()
        assert proc.returncode in (0, -signal.SIGKILL), stderr
        left = count_blobs(blobs)
        if proc.returncode == -signal.SIGKILL and len(reachable) < left < total:
            partial += 1
        assert reachable_ok(target) == [], f"run {run}: a tag no longer verifies"
        assert reachable <= blob_digests(target)
    # Enough kills must land in the middle of deleting for this test to mean anything.
    print(f"{partial} of {RUNS} kills landed mid-run")
    assert partial >= RUNS // 3, f"only {partial} of {RUNS} kills landed mid-run"
    # A later gc finishes the job.
    last = tmp_path / f"run-{RUNS - 1}"
    done = subprocess.run(
        [sys.executable, "-m", "cachetui", "gc", str(last), "--yes", "--grace", "0s"],
        env=env, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert blob_digests(last) == reachable
    assert reachable_ok(last) == []

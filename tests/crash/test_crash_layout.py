"""Crash tests into directories: copy and re-export killed with SIGKILL 30 times each."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from cachetui.demo.generator import CacheShape, write_cache
from cachetui.ops.copy import copy_cache
from cachetui.store.layout import LayoutStore
from tests.crash.harness import check_layout, delays, run_and_kill, run_to_end, tree_hash
from tests.fixtures import fixture_dir

pytestmark = pytest.mark.slow


def _destination(root: Path) -> tuple[Path, str]:
    """A destination that already holds another cache, which must survive every kill."""
    if root.exists():
        shutil.rmtree(root)
    store = LayoutStore(root, create=True)
    asyncio.run(copy_cache(LayoutStore(fixture_dir("buildkit-variants", "zstd")), ["latest"],
                           store, "other"))
    return root, (root / "index.json").read_text()


@pytest.mark.parametrize(("command", "layer_bytes", "extra"), [
    ("copy", 12 * 1024 * 1024, []),
    ("reexport", 5 * 1024 * 1024, ["--compression", "zstd"]),
])
def test_killed_runs_leave_valid_caches(tmp_path: Path, command: str, layer_bytes: int,
                                        extra: list[str]) -> None:
    source = tmp_path / "src"
    write_cache(source, "latest", CacheShape(layer_bytes=layer_bytes, stages=3))
    before = tree_hash(source)
    timings = []
    for _ in range(2):  # the first run warms the page cache; kill points follow the warm one
        calibrate, _ = _destination(tmp_path / "calibrate")
        timings.append(run_to_end([command, str(source), f"{calibrate}:t", *extra]))
    full = min(timings)
    expected = check_layout(calibrate)["t"]
    outcomes = {"killed": 0, "finished": 0}
    for index, delay in enumerate(delays(full, seed=len(command))):
        destination, index_before = _destination(tmp_path / f"d{index % 2}")
        code = run_and_kill([command, str(source), f"{destination}:t", *extra], delay)
        outcomes["finished" if code is not None else "killed"] += 1
        assert code in (None, 0)
        state = check_layout(destination)
        assert state["other"] == check_layout(calibrate)["other"]
        if "t" not in state:
            assert (destination / "index.json").read_text() == index_before
        else:
            assert state["t"] == expected
        run_to_end([command, str(source), f"{destination}:t", *extra])
        assert check_layout(destination)["t"] == expected
    assert tree_hash(source) == before
    assert outcomes["killed"] >= 20, outcomes

"""Crash tests into the real test registry: copy and re-export killed with SIGKILL 30 times each."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cachetui.demo.generator import CacheShape, write_cache
from cachetui.store.registry.session import RegistrySession
from tests.crash.harness import check_store, delays, run_and_kill, run_to_end, tree_hash
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, unique_repo

pytestmark = [pytest.mark.slow, pytest.mark.registry]


async def _state(host: str, repository: str) -> dict[str, str]:
    async with RegistrySession(fast_settings()) as session:
        return await check_store(session.store(host, repository), ["t"])


@pytest.mark.parametrize(("command", "layer_bytes", "extra"), [
    ("copy", 5 * 1024 * 1024, []),
    ("reexport", 3 * 1024 * 1024, ["--compression", "zstd"]),
])
def test_killed_runs_leave_valid_caches(tmp_path: Path, registry: RunningRegistry, command: str,
                                        layer_bytes: int, extra: list[str]) -> None:
    source = tmp_path / "src"
    write_cache(source, "latest", CacheShape(layer_bytes=layer_bytes, stages=3))
    before = tree_hash(source)
    timings = []
    for _ in range(2):
        calibrate = unique_repo("crash")
        timings.append(run_to_end([command, str(source), f"{registry.host}/{calibrate}:t", *extra]))
    expected = asyncio.run(_state(registry.host, calibrate))["t"]
    killed = 0
    for delay in delays(min(timings), seed=7 + len(command)):
        repository = unique_repo("crash")
        target = f"{registry.host}/{repository}:t"
        code = run_and_kill([command, str(source), target, *extra], delay)
        killed += code is None
        assert code in (None, 0)
        state = asyncio.run(_state(registry.host, repository))
        assert state.get("t", expected) == expected  # absent, or the complete cache
        run_to_end([command, str(source), target, *extra])
        assert asyncio.run(_state(registry.host, repository)) == {"t": expected}
    assert tree_hash(source) == before
    assert killed >= 20, killed

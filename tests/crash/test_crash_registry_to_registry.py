"""Crash tests between two repositories of the real test registry: copy (cross-repository mounts)
and re-export (pull, re-encode, push) killed with SIGKILL 20 times each.

After each kill the source repository is unchanged (same tags, same manifests, every blob
verifies), the destination tag is absent or the complete cache, and a re-run completes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cachetui.demo.generator import CacheShape, write_cache
from cachetui.store.registry.session import RegistrySession
from tests.crash.harness import check_store, delays, run_and_kill, run_to_end
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, push_layout, unique_repo

pytestmark = [pytest.mark.slow, pytest.mark.registry]

RUNS = 20


async def _state(host: str, repository: str, tags: list[str]) -> dict[str, str]:
    async with RegistrySession(fast_settings()) as session:
        return await check_store(session.store(host, repository), tags)


async def _push_source(host: str, layout: Path) -> str:
    repository = unique_repo("crash-src")
    async with RegistrySession(fast_settings()) as session:
        await push_layout(session.store(host, repository), layout, "latest")
    return repository


@pytest.mark.parametrize(("command", "layer_bytes", "extra"), [
    ("copy", 1024 * 1024, []),  # mounts: no bytes move, so size hardly matters
    ("reexport", 1024 * 1024, ["--compression", "zstd"]),
])
def test_killed_runs_between_repositories_leave_valid_caches(
        tmp_path: Path, registry: RunningRegistry, command: str, layer_bytes: int,
        extra: list[str]) -> None:
    write_cache(tmp_path / "src", "latest", CacheShape(layer_bytes=layer_bytes, stages=3))
    source_repo = asyncio.run(_push_source(registry.host, tmp_path / "src"))
    source = f"{registry.host}/{source_repo}:latest"
    source_before = asyncio.run(_state(registry.host, source_repo, ["latest"]))
    timings = []
    for _ in range(2):
        calibrate = unique_repo("crash")
        timings.append(run_to_end([command, source, f"{registry.host}/{calibrate}:t", *extra]))
    expected = asyncio.run(_state(registry.host, calibrate, ["t"]))["t"]
    killed = 0
    for delay in delays(min(timings), seed=11 + len(command))[:RUNS]:
        repository = unique_repo("crash")
        target = f"{registry.host}/{repository}:t"
        code = run_and_kill([command, source, target, *extra], delay)
        killed += code is None
        assert code in (None, 0)
        state = asyncio.run(_state(registry.host, repository, ["t"]))
        assert state.get("t", expected) == expected  # absent, or the complete cache
        run_to_end([command, source, target, *extra])
        assert asyncio.run(_state(registry.host, repository, ["t"])) == {"t": expected}
        assert asyncio.run(_state(registry.host, source_repo, ["latest"])) == source_before
    assert killed >= RUNS * 2 // 3, killed

"""A prune plan over 300 registry tags on a loopback ``docker-registry``.

Fills the registry with 300 tags over 30 distinct cache manifests (10 tags per manifest, so every
manifest has tags that share it: the collateral check matters), then times the plan for
``--keep 55`` in process (list, resolve and read every tag with bounded concurrency, evaluate,
find collateral tags, count bytes) and ``cachetui prune HOST/REPO --keep 55 --json`` as a
subprocess (cold start included). Nothing is deleted.

    .venv/bin/python -m bench.bench_prune_plan
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.fill import fill_registry
from cachetui.demo.generator import CacheShape, write_cache
from cachetui.ops.policy import Policy
from cachetui.ops.prune import plan_prune
from cachetui.store.registry import RegistrySession
from tests.fixtures import REPO_ROOT
from tests.registry_procs import start_registry

DISTINCT = 30
COPIES = 10
REPO = "bench/prune"
NEWEST = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
KEEP = 55
"""Keeps 5 whole manifests and half of a sixth: its other 5 tags are blocked by collateral."""


async def fill(host: str, layout: Path) -> None:
    await fill_registry(host, REPO, layout, distinct=DISTINCT, copies=COPIES)


async def plan_once(host: str) -> tuple[float, int, int, int]:
    async with RegistrySession() as session:
        store = session.store(host, REPO)
        started = time.perf_counter()
        plan = await plan_prune([(store, [])], Policy(keep=KEEP))
        elapsed = time.perf_counter() - started
    source = plan.sources[0]
    collateral = sum(len(item.collateral) for item in source.items)
    return elapsed, len(source.items), len(source.blocked), collateral


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="cachetui-bench-") as tmp:
        layout = Path(tmp) / "layout"
        for i in range(DISTINCT):
            write_cache(layout, f"m{i:02d}", CacheShape(
                mode="max" if i % 2 else "min", seed=i, variant=i, layer_bytes=8 * 1024,
                extra_records=50, created=NEWEST - timedelta(hours=i)))
        running = start_registry(Path(tmp) / "registry")
        try:
            asyncio.run(fill(running.host, layout))
            runs = [asyncio.run(plan_once(running.host)) for _ in range(3)]
            command = [sys.executable, "-m", "cachetui", "prune", f"{running.host}/{REPO}",
                       "--keep", str(KEEP), "--json"]
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, cwd=REPO_ROOT, check=False)
            cli = time.perf_counter() - started
            data = json.loads(done.stdout)
        finally:
            running.stop()
    best = min(run[0] for run in runs)
    _, items, blocked, collateral = runs[0]
    assert len(data["plan"]["sources"][0]["items"]) == items
    print(f"tags: {DISTINCT * COPIES} ({DISTINCT} distinct manifests); policy --keep {KEEP}")
    print(f"plan: {items} items selected, {blocked} blocked by {collateral} collateral tags")
    print(f"plan in process: best {best:.3f} s of {len(runs)} "
          f"({', '.join(f'{run[0]:.3f}' for run in runs)})")
    print(f"cachetui prune --json (subprocess, exit {done.returncode}): {cli:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The TUI part of ``bench_scale`` without a registry: 3,000 rows stream into the real app.

30 repositories of 100 distinct caches each are posted to the main screen the way its scan
workers post them (four repositories at a time, batches every 50 ms, about 200 rows a second:
the pace bench_scale's loopback registry delivered), headless at 120x36, and the worst
event-loop stall while the rows fill is measured (how late a 10 ms sleep wakes up), with the
process CPU seconds the fill took. The network and parsing are left out, so the figure is what
the UI itself costs; ``bench_scale`` measures the whole.

    .venv/bin/python -m bench.bench_tui_fill [REPOSITORIES] [PER_REPOSITORY]
"""

from __future__ import annotations

import asyncio
import copy
import sys
import tempfile
import time
from pathlib import Path

from bench.rounds import load, verdict
from cachetui.demo.dataset import FIXED_NOW
from cachetui.demo.generator import CacheShape, write_cache
from cachetui.ops.inventory import CacheEntry, EntryScanned, ScanFinished, ScanStarted, scan_store
from cachetui.store.layout import LayoutStore
from cachetui.tui.app import make_app
from cachetui.tui.messages import ScanBatch, SourceAdded
from cachetui.tui.model import SourceState, SourceStatus
from cachetui.tui.screens.main import MainScreen
from cachetui.tui.widgets.cache_table import CacheTable

SIZE = (120, 36)
FORMS = ("image-manifest", "index", "docker-list")
PARALLEL = 4
"""Repositories scanned at once (``PARALLEL_STORES``)."""
RATE = 200.0
"""Rows a second, all repositories together."""
BATCH_SECONDS = 0.05
GOAL = 0.1


async def base_entries(root: Path) -> list[CacheEntry]:
    """Six analysed caches of bench_scale's shapes (rows copy their analyses)."""
    for i in range(6):
        write_cache(root, f"m{i}", CacheShape(
            form=FORMS[i % 3], mode="max" if i % 2 else "min", seed=i, variant=i,  # type: ignore[arg-type]
            layer_bytes=8 * 1024, extra_records=50))
    entries = []
    async for event in scan_store(LayoutStore(root)):
        if isinstance(event, EntryScanned):
            entries.append(event.entry)
    return sorted(entries, key=lambda e: e.tag)


class LongestStep:
    """The most CPU one event-loop step (callback) took: the stall a quiet machine would see,
    whatever the load (the wall-clock stall grows with the CPU share the process gets)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.on = False
        self._run = asyncio.events.Handle._run

    def __enter__(self) -> LongestStep:
        original = self._run

        def timed(handle: asyncio.events.Handle) -> None:
            started = time.thread_time()
            try:
                original(handle)
            finally:
                if self.on:
                    self.worst = max(self.worst, time.thread_time() - started)

        asyncio.events.Handle._run = timed  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.events.Handle._run = self._run  # type: ignore[method-assign]


async def fill(repositories: int, per: int, step: LongestStep) -> tuple[float, float, int, float]:
    """(worst stall while filling, CPU seconds, rows shown, wall seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        bases = await base_entries(Path(tmp))
    host = "registry.bench:5000"
    repos = [f"{host}/scale/repo-{r:02d}" for r in range(repositories)]
    # distinct analysis objects per row, as 3,000 distinct caches hold (the GC walks them)
    rows = {repo: [CacheEntry(repo, "registry", f"c-{i:04d}",
                              copy.deepcopy(bases[i % len(bases)].analysis))
                   for i in range(per)] for repo in repos}
    app = make_app([], clock=lambda: FIXED_NOW, use_config_sources=False)
    worst = 0.0
    async with app.run_test(size=SIZE) as pilot:
        while not isinstance(app.screen, MainScreen):
            await pilot.pause()
        main = app.screen
        await pilot.pause()
        group = f"group:{host}"
        main.post_message(SourceAdded(SourceState(group, host, "host", status=SourceStatus.DONE)))
        for repo in repos:
            main.post_message(SourceAdded(SourceState(repo, repo.split("/", 1)[1], "registry",
                                                      parent=group,
                                                      status=SourceStatus.LOADING)))
        await pilot.pause()
        filling = True

        async def monitor() -> None:
            nonlocal worst
            while filling:
                before = time.perf_counter()
                await asyncio.sleep(0.01)
                worst = max(worst, time.perf_counter() - before - 0.01)

        async def scan(repo: str) -> None:
            main.post_message(ScanBatch(repo, [ScanStarted(repo, per)]))
            pace = BATCH_SECONDS * RATE / PARALLEL
            entries = rows[repo]
            done = 0
            while done < per:
                await asyncio.sleep(BATCH_SECONDS)
                step = entries[done:done + max(1, round(pace))]
                events: list[object] = []
                for entry in step:
                    done += 1
                    events.append(EntryScanned(entry, done, per))
                main.post_message(ScanBatch(repo, events))  # type: ignore[arg-type]
            main.post_message(ScanBatch(repo, [ScanFinished(repo, per)]))

        async def scan_all() -> None:
            limit = asyncio.Semaphore(PARALLEL)

            async def one(repo: str) -> None:
                async with limit:
                    await scan(repo)

            await asyncio.gather(*(one(repo) for repo in repos))

        watcher = asyncio.create_task(monitor())
        step.on = True
        cpu = time.process_time()
        started = time.perf_counter()
        await scan_all()
        for _ in range(60_000):  # the last batches are still queued: a minute at most
            if all(s.status is SourceStatus.DONE for s in main.sources.values()):
                break
            await asyncio.sleep(0.01)
        main.flush()
        await asyncio.sleep(0.1)
        filling = False
        step.on = False
        await watcher
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
        shown = main.query_one(CacheTable).row_count
    return worst, cpu, shown, wall


def main() -> int:
    repositories = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    per = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with LongestStep() as step:
        worst, cpu, shown, wall = asyncio.run(fill(repositories, per, step))
    print(f"TUI fill, {shown} rows from {repositories} repositories in {wall:.1f} s (CPU "
          f"{cpu:.1f} s; longest loop step {step.worst * 1000:.0f} ms CPU): worst event-loop "
          f"stall {worst * 1000:.0f} ms (goal < "
          f"{GOAL * 1000:.0f} ms: {verdict(worst < GOAL)}); {load()}")
    return 0 if worst < GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""TUI budgets, measured inside the app (headless, 120x36).

1. start to first painted cache table on the demo set (budget 1.5 s);
2. opening the cache screen of a cache with 20,000 records and ~2,000 layers (budget 0.5 s);
3. the longest event-loop stall while a 300-tag directory fills the table (budget 100 ms),
   measured by a 20 ms interval timer inside the app recording how late each tick runs.

    .venv/bin/python -m bench.bench_tui
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from cachetui.demo.dataset import FIXED_NOW, build_demo
from cachetui.demo.generator import CacheShape, write_cache
from cachetui.tui.app import make_app
from cachetui.tui.model import SourceStatus
from cachetui.tui.screens.cache import CacheScreen
from cachetui.tui.screens.main import MainScreen
from cachetui.tui.widgets.cache_table import CacheTable
from cachetui.tui.widgets.layers_table import LayersTable

SIZE = (120, 36)
BIG = CacheShape(stages=105, steps_per_stage=19, final_steps=10, layer_bytes=64,
                 extra_records=17_990, seed=42)
SMALL = CacheShape(stages=2, steps_per_stage=2, final_steps=2, layer_bytes=64)


def _main(app: object) -> MainScreen:
    screen = app.screen_stack[1]  # type: ignore[attr-defined]
    assert isinstance(screen, MainScreen)
    return screen


async def first_paint(root: Path) -> float:
    paths = [str(p) for p in build_demo(root / "demo")]
    start = time.perf_counter()
    app = make_app(paths, clock=lambda: FIXED_NOW, use_config_sources=False)
    async with app.run_test(size=SIZE) as pilot:
        while len(app.screen_stack) < 2 or not _main(app).query_one(CacheTable).row_count:
            await pilot.pause()
        elapsed = time.perf_counter() - start
        await app.workers.wait_for_complete()
    return elapsed


async def open_big(root: Path) -> tuple[float, int, int]:
    write_cache(root / "big", "big", BIG)
    app = make_app([str(root / "big")], clock=lambda: FIXED_NOW, use_config_sources=False)
    async with app.run_test(size=SIZE) as pilot:
        while len(app.screen_stack) < 2 or not _main(app).query_one(CacheTable).row_count:
            await app.workers.wait_for_complete()
            await pilot.pause()
        row = _main(app).query_one(CacheTable).rows_shown[0]
        assert row.entry.analysis is not None
        start = time.perf_counter()
        await pilot.press("enter")
        while not isinstance(app.screen, CacheScreen) or not app.screen.query(LayersTable):
            await pilot.pause()
        await pilot.pause()
        elapsed = time.perf_counter() - start
        return elapsed, row.entry.analysis.record_count, row.entry.analysis.layer_count


async def stalls_while_filling(root: Path) -> tuple[float, int]:
    many = root / "many"
    for i in range(300):
        write_cache(many, f"branch-{i:03d}", CacheShape(stages=2, steps_per_stage=2, final_steps=2,
                                                        layer_bytes=64, variant=i, seed=i % 7))
    app = make_app([str(many)], clock=lambda: FIXED_NOW, use_config_sources=False)
    worst = 0.0
    period = 0.02
    last = time.perf_counter()

    def tick() -> None:
        nonlocal last, worst
        now = time.perf_counter()
        worst = max(worst, now - last - period)
        last = now

    async with app.run_test(size=SIZE) as pilot:
        app.set_interval(period, tick)
        while len(app.screen_stack) < 2 or not _main(app).sources or any(
                s.status is not SourceStatus.DONE for s in _main(app).sources.values()):
            await pilot.pause()
        _main(app).flush()
        await pilot.pause()
        rows = _main(app).query_one(CacheTable).row_count
    return worst, rows


async def run() -> int:
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paint = await first_paint(root)
        print(f"start to first painted table (demo): {paint * 1000:.0f} ms (budget 1500 ms)")
        ok &= paint < 1.5
        opened, records, layers = await open_big(root)
        print(f"open cache screen ({records} records, {layers} layers): {opened * 1000:.0f} ms "
              "(budget 500 ms)")
        ok &= opened < 0.5
        stall, rows = await stalls_while_filling(root)
        print(f"worst event-loop stall while {rows} tags fill: {stall * 1000:.0f} ms (budget 100 ms)")
        ok &= stall < 0.1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(run()))

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
from collections.abc import Callable
from pathlib import Path

from textual.screen import Screen

from bench.rounds import load, verdict
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


async def _until(ready: Callable[[], bool]) -> None:
    """Poll every millisecond (Pilot.pause would wait for the app to become idle)."""
    for _ in range(60_000):
        if ready():
            return
        await asyncio.sleep(0.001)
    raise TimeoutError("the app did not get there within a minute")


async def _after_paint(screen: Screen[object]) -> None:
    """Return once ``screen`` has been refreshed (painted) after this call."""
    painted = asyncio.Event()
    screen.call_after_refresh(painted.set)
    await painted.wait()


async def open_big(root: Path) -> tuple[float, float, int, int]:
    """(enter → the cache screen painted with the first layer rows, enter → every layer row in
    the layers table, records, layers). The table fills in batches after the first paint."""
    write_cache(root / "big", "big", BIG)
    app = make_app([str(root / "big")], clock=lambda: FIXED_NOW, use_config_sources=False)
    async with app.run_test(size=SIZE) as pilot:
        while len(app.screen_stack) < 2 or not _main(app).query_one(CacheTable).row_count:
            await app.workers.wait_for_complete()
            await pilot.pause()
        row = _main(app).query_one(CacheTable).rows_shown[0]
        assert row.entry.analysis is not None
        start = time.perf_counter()
        # Not pilot.press: it returns only once the app is idle, after the table has filled.
        app.simulate_key("enter")
        await _until(lambda: isinstance(app.screen, CacheScreen) and bool(
            app.screen.query(LayersTable)) and bool(app.screen.query_one(LayersTable).row_count))
        screen = app.screen
        await _after_paint(screen)
        opened = time.perf_counter() - start
        await _until(lambda: screen.query_one(LayersTable).complete)
        await _after_paint(screen)
        filled = time.perf_counter() - start
        return opened, filled, row.entry.analysis.record_count, row.entry.analysis.layer_count


async def stalls_while_filling(root: Path) -> tuple[float, float, int]:
    """(worst stall while the source fills, worst stall before it started filling, rows).

    "Filling" starts once the main screen has been painted for the first time (a callback after
    its first refresh) and lasts until the source is done; the start-up frames before it
    (mounting the screens, the first full paint: the first-paint budget) are reported apart.
    """
    many = root / "many"
    for i in range(300):
        write_cache(many, f"branch-{i:03d}", CacheShape(stages=2, steps_per_stage=2, final_steps=2,
                                                        layer_bytes=64, variant=i, seed=i % 7))
    app = make_app([str(many)], clock=lambda: FIXED_NOW, use_config_sources=False)
    worst = {"start": 0.0, "fill": 0.0}
    painted: list[bool] = []
    period = 0.02
    last = time.perf_counter()

    def filling() -> bool:
        if len(app.screen_stack) < 2:
            return False
        main = _main(app)
        if not painted:
            if main.is_mounted and not hasattr(main, "_bench_paint"):
                main._bench_paint = True  # type: ignore[attr-defined]
                main.call_after_refresh(painted.append, True)
            return False
        return any(s.status is not SourceStatus.DONE for s in main.sources.values())

    phase = "start"

    def tick() -> None:
        """A gap counts for the phase the app was in when it began (the previous tick)."""
        nonlocal last, phase
        now = time.perf_counter()
        worst[phase] = max(worst[phase], now - last - period)
        last = now
        phase = "fill" if filling() else "start"

    async with app.run_test(size=SIZE) as pilot:
        app.set_interval(period, tick)
        while len(app.screen_stack) < 2 or not _main(app).sources or any(
                s.status is not SourceStatus.DONE for s in _main(app).sources.values()):
            await pilot.pause()
        _main(app).flush()
        await pilot.pause()
        tick()
        rows = _main(app).query_one(CacheTable).row_count
    return worst["fill"], worst["start"], rows


async def run() -> int:
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paint = await first_paint(root)
        print(f"start to first painted table (demo): {paint * 1000:.0f} ms (budget 1500 ms: "
              f"{verdict(paint < 1.5)})")
        ok &= paint < 1.5
        opened, filled, records, layers = await open_big(root)
        print(f"open cache screen ({records} records, {layers} layers): {opened * 1000:.0f} ms "
              f"(budget 500 ms: {verdict(opened < 0.5)}; all layer rows in the table after "
              f"{filled * 1000:.0f} ms)")
        ok &= opened < 0.5
        stall, start, rows = await stalls_while_filling(root)
        print(f"worst event-loop stall while {rows} tags fill: {stall * 1000:.0f} ms (budget 100 ms: "
              f"{verdict(stall < 0.1)}; start-up frame before filling: {start * 1000:.0f} ms); "
              f"{load()}")
        ok &= stall < 0.1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(run()))

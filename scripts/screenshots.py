"""Regenerate screenshots/*.svg from the demo set (fixed clock, 120x36; ``-140`` and ``-80``
names at 140x40 and 80x24).

    .venv/bin/python -m scripts.screenshots
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from textual.pilot import Pilot

from cachetui.demo.dataset import FIXED_NOW, build_demo
from cachetui.tui.app import CachetuiApp, make_app
from cachetui.tui.screens.main import MainScreen

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SCENES: dict[str, tuple[str, ...]] = {
    "main": (),
    "cache-summary": ("enter",),
    "cache-layers": ("enter", "2"),
    "cache-records": ("enter", "3", "enter"),
    "cache-config": ("enter", "5"),
    "compare": ("space", "down", "space", "equals_sign"),
    "marked": ("j", "space", "shift+down", "shift+down"),
    "help": ("question_mark",),
    "error": ("G",),
    "reexport": ("r",),
    "prune": ("j", "space", "shift+down", "d"),
    "source": ("G", "up", "i"),
    "gc": ("G", "up", "C"),
    "space": ("w",),
    "shares": ("enter", "2", "s"),
}
WIDE: dict[str, tuple[str, ...]] = {
    "main-140": (),
    "cache-layers-140": ("enter", "2"),
    "prune-140": ("j", "space", "shift+down", "d"),
    "main-80": (),
    "cache-layers-80": ("enter", "2"),
    "reexport-80": ("r",),
    "help-80": ("question_mark",),
    "space-140": ("w",),
    "space-80": ("w",),
    "shares-80": ("enter", "2", "s"),
}
SIZES = {"140": (140, 40), "80": (80, 24)}


async def settle(pilot: Pilot[None]) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    for screen in pilot.app.screen_stack:
        if isinstance(screen, MainScreen):
            screen.flush()
    await pilot.pause()


async def scene(sources: list[str], name: str, keys: tuple[str, ...]) -> None:
    app: CachetuiApp = make_app(sources, clock=lambda: FIXED_NOW, use_config_sources=False,
                                demo=True)
    size = SIZES.get(name.rsplit("-", 1)[-1], (120, 36))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        app.save_screenshot(f"{name}.svg", path=str(OUT))


async def main() -> int:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        paths = build_demo(Path(tmp) / "demo")
        # Files a day older than the demo clock: long past the gc grace period in real time
        # too, so the gc scene has something to delete and the ages read like a real runner's.
        day_before = FIXED_NOW.timestamp() - 86400
        for path in paths:
            for blob in path.glob("blobs/*/*"):
                os.utime(blob, (day_before, day_before))
        os.chdir(tmp)  # relative paths: no temporary directory names in the pictures
        sources = [f"./demo/{p.name}" for p in paths]
        for name, keys in {**SCENES, **WIDE}.items():
            await scene(sources, name, keys)
            print(OUT / f"{name}.svg")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

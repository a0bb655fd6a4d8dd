"""``cachetui demo``: build the demo caches (once, under the user cache dir) and open the UI on them."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from cachetui.cli import ui
from cachetui.cli.common import EXIT_OK, require_terminal


def default_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cachetui" / "demo"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to build the demo caches (default: $XDG_CACHE_HOME/cachetui/demo)")
    parser.add_argument("--read-only", action="store_true",
                        help="hide every destructive key and command")
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    from cachetui.demo.dataset import FIXED_NOW, build_demo

    require_terminal("`cachetui ls DIR` on a cache directory")
    root = args.dir or default_dir()
    paths = await asyncio.to_thread(build_demo, root)
    # The demo's dates are fixed, so its ages are shown against the same fixed "now".
    await ui.launch(ui.UiRequest([str(path) for path in paths], read_only=args.read_only,
                                 demo=True, clock=lambda: FIXED_NOW, use_config_sources=False))
    return EXIT_OK

"""``cachetui cache clear|info``: the on-disk cache of manifests and cache configs."""

from __future__ import annotations

import argparse

from cachetui.cli.common import EXIT_OK
from cachetui.present import units
from cachetui.store.diskcache import DiskCache


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "The on-disk cache of manifests and cache configs (content-addressed, so never stale; "
        "it makes a second look at a registry resolve tags only). Stored under "
        "$XDG_CACHE_HOME/cachetui (CACHETUI_CACHE_DIR overrides); --no-cache on any command "
        "or CACHETUI_NO_CACHE=1 turns it off.")
    parser.add_argument("action", choices=["clear", "info"],
                        help="clear: delete everything in it; info: where it is and its size")
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    cache = DiskCache()
    if args.action == "clear":
        freed = cache.clear()
        print(f"cleared {cache.root} ({units.size(freed)})")
    else:
        count, size = cache.usage()
        print(f"{cache.root}: {count} objects, {units.size(size)} "
              f"(bound {units.size(cache.max_bytes)})")
    return EXIT_OK

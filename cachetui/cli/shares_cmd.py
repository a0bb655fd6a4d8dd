"""``cachetui shares SOURCE... DIGEST``: which caches of the sources hold a layer, by blob digest,
and which hold the same content in another encoding (same diffID). The TUI's ``s`` on a layer."""

from __future__ import annotations

import argparse
from typing import Any

from cachetui.cli.common import EXIT_OK, EXIT_PARTIAL, error, print_json, table
from cachetui.cli.registry_args import add_registry_arguments, workspace
from cachetui.ops.gather import gather
from cachetui.ops.shares import Holder, Shares, resolve_layer, shares
from cachetui.present import units


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Which caches of the SOURCEs hold the blob DIGEST, and which hold its "
                          "content in another encoding (same diffID). DIGEST: a blob digest or "
                          "diffID, whole or a unique prefix.")
    parser.add_argument("sources", nargs="+", metavar="SOURCE")
    parser.add_argument("digest", metavar="DIGEST")
    parser.add_argument("--json", action="store_true", help="print the holders as JSON")
    parser.add_argument("--depth", type=int, default=4,
                        help="how deep to search folders for cache directories (default 4)")
    add_registry_arguments(parser)
    parser.set_defaults(handler=run)


def holder_json(holder: Holder) -> dict[str, Any]:
    layer = holder.layer
    return {"source": holder.entry.source, "tag": holder.entry.tag, "digest": layer.digest,
            "compression": layer.compression, "size": layer.size, "role": str(layer.role)}


def shares_json(found: Shares) -> dict[str, Any]:
    return {"digest": found.digest, "diff_id": found.diff_id,
            "same_blob": [holder_json(h) for h in found.same_blob],
            "same_content": [holder_json(h) for h in found.same_content]}


def _rows(holders: tuple[Holder, ...]) -> list[list[str]]:
    return [[h.entry.ref, h.layer.digest[:19], h.layer.compression, units.size(h.layer.size),
             str(h.layer.role)] for h in holders]


async def run(args: argparse.Namespace) -> int:
    async with workspace(args) as ws:
        found = await gather(ws, args.sources, discover_depth=args.depth)
    digest, diff_id = resolve_layer(found.entries, args.digest)
    result = shares(found.entries, digest, diff_id)
    if args.json:
        print_json(shares_json(result))
    else:
        print(f"layer {digest}" + (f" (diffID {diff_id})" if diff_id else ""))
        headers = ["CACHE", "BLOB", "COMPRESSION", "SIZE", "ROLE"]
        print(f"\nsame blob: {units.count(len(result.same_blob), 'cache')}")
        if result.same_blob:
            print(table(headers, _rows(result.same_blob), right=(3,)))
        print(f"\nsame content in another encoding (same diffID): "
              f"{units.count(len(result.same_content), 'cache')}")
        if result.same_content:
            print(table(headers, _rows(result.same_content), right=(3,)))
    for entry in found.entries:
        if entry.analysis is None:
            error(f"{entry.ref}: {entry.error or 'cannot be read'}")
    for message in found.errors:
        error(message)
    unreadable = any(entry.analysis is None for entry in found.entries)
    return EXIT_PARTIAL if found.errors or unreadable else EXIT_OK

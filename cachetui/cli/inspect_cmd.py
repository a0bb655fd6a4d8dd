"""``cachetui inspect SOURCE... [--layers] [--json]``: one cache in depth."""

from __future__ import annotations

import argparse

from cachetui.buildkit.analysis import CacheAnalysis
from cachetui.cli import gha_view, objects_view
from cachetui.cli.common import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, error, print_json, table
from cachetui.cli.registry_args import add_registry_arguments, workspace
from cachetui.errors import CachetuiError
from cachetui.ops.gather import gather
from cachetui.ops.inventory import CacheEntry
from cachetui.ops.uncompressed import UncompressedSizes, fill
from cachetui.present import units
from cachetui.present.forms import format_detail, format_name, unreferenced_place
from cachetui.present.safe_text import safe, safe_lines
from cachetui.report import cache_json

ESTIMATE_NOTE = (
    "min estimate assumes a clean builder; a warm builder exports more even with mode=min"
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Inspect caches. SOURCE is a directory (every tag), DIR:TAG, "
        "type=local,src=DIR[,tag=T], HOST/REPO:TAG or type=registry,ref=HOST/REPO:TAG.")
    parser.add_argument("sources", nargs="+", metavar="SOURCE")
    parser.add_argument("--layers", action="store_true", help="list every layer")
    parser.add_argument("--uncompressed", action="store_true",
                        help="also measure uncompressed layer sizes (reads every layer once)")
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    add_registry_arguments(parser)
    parser.set_defaults(handler=run)


def _describe(entry: CacheEntry, analysis: CacheAnalysis, unreferenced: int | None,
              show_layers: bool, sizes: dict[str, int] | None) -> str:
    document = analysis.document
    minmax = analysis.minmax
    lines = [
        safe(entry.ref),
        f"  digest        {document.top.digest}",
        f"  format        {format_name(entry.kind, document)}  "
        f"({safe(format_detail(entry.kind, document))})",
    ]
    if not document.is_cache:
        lines.append("  not a BuildKit cache (a plain image)")
    lines += [
        f"  compression   {', '.join(analysis.compression) or '-'}",
        f"  layers        {analysis.layer_count}  ({units.size(analysis.size_bytes)})",
        f"  records       {analysis.record_count} ({analysis.records_with_results} with results)",
    ]
    if document.is_cache:
        final = len(minmax.min_digests)
        lines += [
            f"  min estimate  {final} layers, {units.size(minmax.min_bytes)}",
            f"  max over min  {len(analysis.intermediate_layers)} intermediate-only layers, "
            f"{units.size(minmax.delta_bytes)}",
            f"                ({ESTIMATE_NOTE})",
        ]
    if unreferenced is not None:
        lines.append(f"  unreferenced  {units.size(unreferenced)} {unreferenced_place(entry.kind)}")
    lines.append(f"  newest        {units.age(analysis.created_newest)}")
    if show_layers:
        rows = [
            [
                layer.digest.short,
                layer.compression,
                units.size(layer.size),
                units.size(sizes.get(layer.digest)) if sizes is not None else "-",
                str(layer.role),
                layer.diff_id[7:19] if layer.diff_id else "-",
                units.age(layer.created_at),
            ]
            for layer in sorted(analysis.layers, key=lambda item: (str(item.role), -item.size))
        ]
        lines.append("")
        lines.append("  " + table(["LAYER", "COMPRESSION", "SIZE", "UNCOMPRESSED", "ROLE",
                                   "DIFFID", "CREATED"], rows, right=(2, 3)).replace("\n", "\n  "))
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    sizes_memo = UncompressedSizes() if args.uncompressed else None
    async with workspace(args) as ws:
        found = await gather(ws, args.sources, discover_depth=0)
        if sizes_memo is not None:
            for entry in found.entries:
                if entry.analysis is None:
                    continue
                store = found.stores[entry.source]
                try:
                    await fill(store, entry.analysis.document.layers, sizes_memo)
                except CachetuiError as exc:
                    found.errors.append(f"{entry.ref}: uncompressed sizes: {exc}")
        try:
            gha = await gha_view.listings_of(list(found.stores.values()), found.entries)
        except CachetuiError as exc:
            gha = []
            found.errors.append(str(exc))
        prefixes = await objects_view.reports_of(list(found.stores.values()), found.errors)
    sizes = sizes_memo.sizes() if sizes_memo is not None else None
    if args.json:
        rows = [
            cache_json(entry, unreferenced_bytes=found.unreferenced.get(entry.source),
                       layers=args.layers or args.uncompressed, uncompressed=sizes)
            | {"cache_from": found.cache_from(entry)}
            for entry in found.entries
        ]
        for row in rows:
            facts = gha_view.facts_for(gha, row["source"], row["tag"])
            if facts is not None:
                row["gha"] = facts
        for row, entry in zip(rows, found.entries, strict=True):
            objects = objects_view.facts_for(prefixes, entry)
            if objects is not None:
                row["objects"] = objects
        print_json(rows)
    else:
        blocks = []
        for entry in found.entries:
            if entry.analysis is None:
                continue
            blocks.append("\n".join([
                _describe(entry, entry.analysis, found.unreferenced.get(entry.source),
                          args.layers or args.uncompressed, sizes),
                *objects_view.lines_for(prefixes, entry)]))
        blocks += [safe_lines("\n".join(gha_view.summary(listing))) for listing in gha]
        if blocks:
            print("\n\n".join(blocks))
    for entry in found.entries:
        if entry.error:
            error(entry.error)
    for message in found.errors:
        error(message)
    failed = found.errors or any(entry.analysis is None for entry in found.entries)
    if failed and not any(entry.analysis for entry in found.entries):
        return EXIT_ERROR
    return EXIT_PARTIAL if failed else EXIT_OK

"""``cachetui ls SOURCE...``: one line per cache tag, with size, age, layers and the min/max delta."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import TYPE_CHECKING

from cachetui import startup
from cachetui.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PARTIAL,
    add_format_arguments,
    error,
    output,
    print_json,
    table,
)
from cachetui.cli.registry_args import add_registry_arguments, workspace
from cachetui.ops.gather import gather
from cachetui.ops.inventory import CacheEntry
from cachetui.ops.listing import ListSort, Totals, matching, sorted_entries, totals
from cachetui.present import units
from cachetui.present.forms import format_name
from cachetui.present.safe_text import safe, safe_lines
from cachetui.report import cache_json
from cachetui.store.gha.names import is_gha

if TYPE_CHECKING:
    from cachetui.cli.gha_view import GhaListing
    from cachetui.locations import Workspace


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "List cache tags. SOURCE is a cache directory (or a folder to search for "
        "them), HOST/REPO for every tag of a repository, HOST for a whole registry, or "
        "gha://OWNER/REPO (type=gha,...) for a GitHub Actions cache.")
    parser.add_argument("sources", nargs="+", metavar="SOURCE")
    add_format_arguments(parser, json_help="print a JSON list (--format json)",
                         format_help="table (default, with a totals line), json or csv")
    parser.add_argument("--sort", choices=[s.value for s in ListSort], default="name",
                        help="name (A-Z), size (biggest first) or age (newest first)")
    parser.add_argument("--match", action="append", default=[], metavar="GLOB",
                        help="only tags (or SOURCE:TAG) matching GLOB; repeatable")
    parser.add_argument("--depth", type=int, default=4,
                        help="how deep to search folders for cache directories (default 4)")
    add_registry_arguments(parser)
    parser.set_defaults(handler=run)


CSV_FIELDS = ("source", "store", "tag", "digest", "format", "compression", "layer_count",
              "size_bytes", "min_size_bytes", "max_over_min_bytes", "unreferenced_bytes",
              "created_newest", "error")


def write_csv(entries: list[CacheEntry], unreferenced: dict[str, int | None],
              failed: list[tuple[str, str]]) -> None:
    """One row per cache (the JSON fields that are scalars); names escaped as everywhere."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    rows = [cache_json(entry, unreferenced_bytes=unreferenced.get(entry.source))
            for entry in entries] + [failed_source_json(s, m) for s, m in failed]
    for row in rows:
        values = []
        for field in CSV_FIELDS:
            value = row.get(field)
            if isinstance(value, list):
                value = ";".join(str(v) for v in value)
            values.append("" if value is None else safe(str(value)))
        writer.writerow(values)


def totals_line(found: Totals) -> str:
    """``TOTAL 12 caches, 3.1 GiB; unique 1.2 GiB; reclaimable now 200 MiB``."""
    return (f"\nTOTAL {units.count(found.caches, 'cache')}, {units.size(found.total_bytes)}; "
            f"unique {units.size(found.unique_bytes)} (shared layers once); "
            f"reclaimable now {units.size(found.reclaimable_bytes)} (unreferenced blobs)")


async def gather_gha(texts: list[str], ws: Workspace) -> tuple[list[GhaListing], list[str]]:
    """The gha sources' listings (their module loads only when there are some)."""
    from cachetui.cli.gha_view import gather_gha as gather_them

    return await gather_them(texts, ws)


def failed_source_json(source: str, message: str) -> dict[str, object]:
    """A source that could not be listed, as an entry (scripts read stdout, not stderr)."""
    return {"source": source, "store": None, "tag": None, "digest": None, "error": message}


async def run(args: argparse.Namespace) -> int:
    gha_sources = [text for text in args.sources if is_gha(text)]
    async with workspace(args) as ws:
        found = await gather(ws, [t for t in args.sources if not is_gha(t)],
                             discover_depth=args.depth)
        gha, gha_errors = await gather_gha(gha_sources, ws) if gha_sources else ([], [])
    found.errors.extend(gha_errors)
    chosen = output(args)
    if gha:
        from cachetui.cli import gha_view  # its rows and JSON: loaded with a gha source only
    listed = len(found.entries)  # before --match: a source that listed tags did not fail whole
    found.entries = sorted_entries(matching(found.entries, args.match), ListSort(args.sort))
    if chosen == "csv":
        write_csv(found.entries, found.unreferenced, found.failed)
    elif chosen == "json":
        print_json([
            cache_json(entry, unreferenced_bytes=found.unreferenced.get(entry.source))
            for entry in found.entries
        ] + [failed_source_json(source, message) for source, message in found.failed]
          + [row for listing in gha for row in gha_view.listing_json(listing)])
    else:
        rows = []
        for entry in found.entries:
            analysis = entry.analysis
            if analysis is None:
                rows.append([entry.ref, "error", "-", "-", "-", "-", "-", "-", "-",
                             entry.error or ""])
                continue
            rows.append([
                entry.ref,
                format_name(entry.kind, analysis.document),
                ",".join(analysis.compression) or "-",
                str(analysis.layer_count),
                units.size(analysis.size_bytes),
                units.size(analysis.minmax.min_bytes) if analysis.document.is_cache else "-",
                units.size(analysis.minmax.delta_bytes) if analysis.document.is_cache else "-",
                units.size(found.unreferenced.get(entry.source)),
                units.age(analysis.created_newest),
                "",
            ])
        if rows:
            print(table(["CACHE", "FORMAT", "COMPRESSION", "LAYERS", "SIZE", "MIN", "MAX-MIN",
                         "UNREFERENCED", "NEWEST", ""], rows, right=(3, 4, 5, 6, 7)))
            print(totals_line(totals(found.entries, found.unreferenced)))
        elif listed and not gha:
            # Silence would read as "no caches here"; say what the filter left out.
            print(safe(f"no cache matches {' or '.join(repr(g) for g in args.match)} "
                       f"(of {units.count(listed, 'cache')} listed)"), file=sys.stderr)
        for listing in gha:
            if rows or listing is not gha[0]:
                print()
            if listing.inventory.caches:
                print(table(gha_view.HEADERS, gha_view.rows(listing),
                            right=(2, 3, 4, 5, 6, 7, 8)))
            print(safe_lines("\n".join(gha_view.summary(listing))))
    for entry in found.entries:
        if entry.analysis is None:
            error(f"{entry.ref}: {entry.error or 'cannot be read'}")
    for message in found.errors:
        error(message)
    failed = found.errors or any(entry.analysis is None for entry in found.entries)
    startup.keep_until_exit(found)  # freeing it is the exit's work (see startup)
    if failed and not listed and not gha:
        return EXIT_ERROR
    return EXIT_PARTIAL if failed else EXIT_OK

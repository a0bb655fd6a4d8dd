"""``cachetui space [SOURCE...]``: where the space goes, per source and for everything named:
total and deduplicated bytes, bytes one cache holds alone, what is reclaimable now and after the
grace period, the biggest caches and a bytes-by-age chart. The TUI's ``w`` screen as a report."""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime
from typing import Any

from cachetui.buildkit.times import format_time
from cachetui.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PARTIAL,
    add_format_arguments,
    error,
    option_duration,
    output,
    print_json,
    table,
)
from cachetui.cli.gha_view import gather_gha
from cachetui.cli.registry_args import add_registry_arguments, workspace
from cachetui.errors import UsageError
from cachetui.ops.gather import gather
from cachetui.ops.reclaim import gha_reclaim, reclaim_all
from cachetui.ops.space import TOP, CacheSize, SpaceFigures, SpaceReport, space_report
from cachetui.present import units
from cachetui.present.safe_text import safe
from cachetui.present.space import (
    CHART_TITLE,
    SOURCE_HEADERS,
    SOURCE_RIGHT,
    can_show_blocks,
    chart_lines,
    source_row,
    summary_lines,
)
from cachetui.store.gha.location import is_gha

CHART_WIDTH = 72
DESCRIPTION = (
    "Where the space goes: per source and for all of them, the bytes every cache adds up "
    "to, the bytes stored once shared layers are deduplicated, the bytes only one cache "
    "holds (what deleting it alone frees), what gc/prune of orphans frees now and after the "
    "grace period, the biggest caches and bytes by age. Without SOURCE: the config file's "
    "sources.")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.add_argument("sources", nargs="*", metavar="SOURCE")
    add_format_arguments(parser, json_help="print JSON (--format json)",
                         format_help="table (default), json, or csv (one row per source, "
                                     "then ALL)")
    parser.add_argument("--top", type=int, default=TOP, metavar="N",
                        help=f"biggest caches to list (default {TOP})")
    parser.add_argument("--grace", metavar="AGE",
                        help="orphans younger than AGE count as 'after grace' (default: gc's, "
                             "10m for directories, 1h for s3/azblob)")
    parser.add_argument("--depth", type=int, default=4,
                        help="how deep to search folders for cache directories (default 4)")
    add_registry_arguments(parser)
    parser.set_defaults(handler=run)


def cache_json(item: CacheSize) -> dict[str, Any]:
    return {"source": item.entry.source, "tag": item.entry.tag, "size_bytes": item.size_bytes,
            "only_here_bytes": item.only_here_bytes, "created_newest": format_time(item.newest)}


def figures_json(figures: SpaceFigures) -> dict[str, Any]:
    return {
        "source": figures.name, "caches": figures.caches, "total_bytes": figures.total_bytes,
        "unique_bytes": figures.unique_bytes, "only_one_cache_bytes": figures.only_one_bytes,
        "reclaimable_now_bytes": figures.reclaim_now,
        "reclaimable_after_grace_bytes": figures.reclaim_later,
        "reclaimable_how": figures.reclaim_how or None,
        "unreadable_tags": figures.unreadable,
        "ages": [{"age": bar.label, "bytes": bar.bytes, "blobs": bar.blobs}
                 for bar in figures.ages],
        "biggest": [cache_json(item) for item in figures.biggest],
    }


def report_json(report: SpaceReport, errors: list[str]) -> dict[str, Any]:
    return {"sources": [figures_json(f) for f in report.sources],
            "all": figures_json(report.overall),
            "unique_everywhere_bytes": report.unique_everywhere_bytes,
            "now": format_time(report.now), "errors": errors}


CSV_FIELDS = ("source", "caches", "total_bytes", "unique_bytes", "only_one_cache_bytes",
              "reclaimable_now_bytes", "reclaimable_after_grace_bytes", "unreadable_tags")


def write_csv(report: SpaceReport) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for figures in (*report.sources, report.overall):
        row = figures_json(figures)
        writer.writerow(["" if row[f] is None else safe(str(row[f])) for f in CSV_FIELDS])


def write_table(report: SpaceReport, top: int) -> None:
    rows = [source_row(f) for f in report.sources]
    if len(report.sources) > 1:
        rows.append(source_row(report.overall))
    print(table(SOURCE_HEADERS, rows, right=SOURCE_RIGHT))
    print()
    for line in summary_lines(report.overall, unique_everywhere=report.unique_everywhere_bytes):
        print(safe(line))
    print()
    print(CHART_TITLE)
    ascii_only = not can_show_blocks(getattr(sys.stdout, "encoding", None))
    print("\n".join(chart_lines(report.overall.ages, width=CHART_WIDTH, ascii_only=ascii_only)))
    biggest = report.overall.biggest[:top]
    if biggest:
        print()
        print("Biggest caches (ONLY HERE: what deleting that tag alone frees)")
        print(table(["CACHE", "SIZE", "ONLY HERE", "NEWEST"], [
            [item.entry.ref, units.size(item.size_bytes), units.size(item.only_here_bytes),
             units.age(item.newest, report.now)] for item in biggest], right=(1, 2)))


async def run(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise UsageError("--top must be at least 1")
    grace = option_duration(args.grace, "--grace") if args.grace else None
    async with workspace(args) as ws:
        texts = list(args.sources) or [entry.source for entry in ws.config.sources]
        if not texts:
            raise UsageError("name a SOURCE (or list sources in the config file)")
        found = await gather(ws, [t for t in texts if not is_gha(t)], discover_depth=args.depth)
        gha, gha_errors = await gather_gha([t for t in texts if is_gha(t)], ws)
        reclaim = await reclaim_all(found.stores.values(), grace=grace)
    found.errors.extend(gha_errors)
    entries = list(found.entries)
    for listing in gha:
        entries += listing.entries.values()
        reclaim[listing.location] = gha_reclaim(listing.location, listing.inventory,
                                                listing.findings)
    report = space_report(entries, reclaim, now=datetime.now(UTC), top=args.top)
    chosen = output(args)
    if chosen == "json":
        print_json(report_json(report, found.errors))
    elif chosen == "csv":
        write_csv(report)
    else:
        write_table(report, args.top)
    for entry in entries:
        if entry.analysis is None:
            error(f"{entry.ref}: {entry.error or 'cannot be read'}")
    for message in [*found.errors, *report.overall.reclaim_errors]:
        error(message)
    failed = bool(found.errors) or bool(report.overall.unreadable) or bool(
        report.overall.reclaim_errors)
    if failed and not entries and not gha:
        return EXIT_ERROR
    return EXIT_PARTIAL if failed else EXIT_OK

"""``cachetui gc DIR...``: delete the blobs no tag of a cache directory reaches.

BuildKit's ``reset=true`` rule, run on demand (fixture ``local-max-twice``: every re-export strands
the previous blobs). Blobs and ``ingest/`` entries younger than ``--grace`` are spared, because a
build may be writing them. Prints the plan; ``--yes`` applies it.
"""

from __future__ import annotations

import argparse
from typing import Any

from cachetui.cli.common import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, error, option_duration, print_json
from cachetui.cli.registry_args import workspace
from cachetui.errors import CachetuiError, InvalidInput
from cachetui.locations import Workspace, parse_location
from cachetui.ops.policy import DEFAULT_GRACE, format_duration
from cachetui.present import units
from cachetui.store.base import CollectsGarbage
from cachetui.store.garbage import GcPlan, GcResult
from cachetui.store.objkind import is_object_location


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Delete the blobs no tag in index.json reaches, stale ingest/ entries and temp files of "
        "interrupted cachetui writes, "
        "sparing those younger than --grace. The plan is printed first; nothing is deleted "
        "without --yes.")
    parser.add_argument("directories", nargs="+", metavar="DIR",
                        help="cache directories, or s3/azblob locations (grace default 1h)")
    parser.add_argument("--grace", metavar="AGE",
                        help="spare blobs younger than AGE (default 10m; 0s for none)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="only print the plan (the default)")
    mode.add_argument("--yes", action="store_true", help="delete the blobs the plan lists")
    parser.add_argument("--json", action="store_true", help="print the plan (and result) as JSON")
    parser.add_argument("--repair", action="store_true",
                        help="s3/azblob: delete manifests that reference missing blobs instead")
    parser.set_defaults(handler=run)


def _store(text: str, workspace: Workspace) -> CollectsGarbage:
    location = parse_location(text)
    if location.reference is not None:
        raise InvalidInput(f"{text}: gc covers the whole store; leave out the tag")
    store = workspace.open(location)
    if not isinstance(store, CollectsGarbage):
        raise InvalidInput(f"{text}: gc works on cache directories only")
    return store


def plan_json(plan: GcPlan) -> dict[str, Any]:
    return {
        "location": plan.location,
        "grace_seconds": plan.grace.total_seconds(),
        "blobs": [{"digest": b.digest, "size": b.size} for b in plan.blobs],
        "bytes": plan.bytes,
        "spared": [{"digest": b.digest, "size": b.size} for b in plan.spared],
        "stale_ingest": [e.name for e in plan.ingest],
        "reachable": plan.reachable,
        "missing": list(plan.missing),
    }


def result_json(result: GcResult) -> dict[str, Any]:
    return {
        "location": result.location,
        "ok": result.ok,
        "deleted": [b.digest for b in result.deleted],
        "bytes": result.bytes,
        "kept": [{"digest": d, "why": why} for d, why in result.kept],
        "failed": [{"digest": d, "error": why} for d, why in result.failed],
        "ingest_deleted": result.ingest_deleted,
        "ingest_failed": [{"name": n, "error": why} for n, why in result.ingest_failed],
        "cancelled": result.cancelled,
    }


async def run(args: argparse.Namespace) -> int:
    grace = option_duration(args.grace, "--grace") if args.grace else DEFAULT_GRACE
    plans: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    failed = False
    failures: list[str] = []
    ws = workspace(args)
    for text in args.directories:
        if is_object_location(text):
            from cachetui.cli.objects_cmd import object_gc

            try:
                object_plan, object_result = await object_gc(
                    text, grace=grace if args.grace else None, yes=args.yes,
                    repair=args.repair, as_json=args.json)
            except CachetuiError as exc:
                errors.append(str(exc))
                continue
            plans.append(object_plan)
            if object_result is not None:
                results.append(object_result)
            continue
        if args.repair:
            errors.append(f"{text}: --repair is for s3/azblob locations")
            continue
        try:
            store = _store(text, ws)
            plan = await store.plan_garbage(grace=grace)
        except CachetuiError as exc:
            errors.append(str(exc))
            continue
        plans.append(plan_json(plan))
        if not args.json:
            _print_plan(plan)
        if not args.yes or not (plan.blobs or plan.ingest):
            continue
        try:
            result = await store.collect_garbage(plan)
        except CachetuiError as exc:
            errors.append(str(exc))
            continue
        failed = failed or not result.ok
        failures.extend(f"{result.location}: {name}: {why}"
                        for name, why in result.failed + result.ingest_failed)
        if result.cancelled:
            failures.append(f"{result.location}: cancelled before the end; run gc again")
        results.append(result_json(result))
        if not args.json:
            _print_result(result)
    if args.json:
        print_json({"dry_run": not args.yes, "plans": plans, "results": results})
    elif not args.yes:
        print("Dry run: nothing was deleted. Run again with --yes to delete.")
    for message in errors:
        error(message)
    for failure in failures:
        error(failure)
    if errors and not plans:
        return EXIT_ERROR
    return EXIT_PARTIAL if errors or failed else EXIT_OK


def _print_plan(plan: GcPlan) -> None:
    print(f"{plan.location}: {len(plan.blobs)} unreferenced blobs "
          f"({units.size(plan.bytes)}) to delete, {plan.reachable} reachable kept")
    for blob in plan.blobs[:20]:
        print(f"  delete {blob.digest}  {units.size(blob.size)}")
    if len(plan.blobs) > 20:
        print(f"  ... and {len(plan.blobs) - 20} more")
    if plan.spared:
        print(f"  spared: {len(plan.spared)} unreferenced blobs younger than "
              f"{format_duration(plan.grace)} ({units.size(sum(b.size for b in plan.spared))})")
    if plan.ingest:
        print(f"  delete {len(plan.ingest)} stale ingest/ entries and interrupted writes")
    if plan.ingest_spared:
        print(f"  spared: {len(plan.ingest_spared)} ingest/ entries in use or recent")
    if plan.missing:
        print(f"  note: {len(plan.missing)} reachable blobs are missing from blobs/")


def _print_result(result: GcResult) -> None:
    print(f"{result.location}: deleted {len(result.deleted)} blobs ({units.size(result.bytes)})"
          + (f", {len(result.ingest_deleted)} ingest entries" if result.ingest_deleted else ""))
    for digest, why in result.kept:
        print(f"  kept {digest[7:19]}: {why}")
    for digest, why in result.failed + result.ingest_failed:
        print(f"  failed {digest[7:19]}: {why}")
    if result.cancelled:
        print("  cancelled before the end; run gc again to finish")

"""``cachetui objects`` and ``cachetui touch``, and gc/repair of s3/azblob prefixes.

``objects SOURCE…`` reports per prefix the orphaned blobs (bytes, age) and the dangling
references (per manifest, with the layers and records that will miss): moby/buildkit#3686 and
#3223. ``touch SOURCE [--name N]… --yes`` refreshes LastModified on the blobs kept manifests use.
``gc`` on an s3/azblob location deletes orphans older than ``--grace`` (default 1h);
``gc --repair`` deletes manifests with dangling references. Every action prints its plan first.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from cachetui.cli.common import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, error, option_duration, print_json
from cachetui.config import load_config
from cachetui.errors import CachetuiError, InvalidInput
from cachetui.locations import Workspace, parse_location
from cachetui.ops.objgc import (
    OBJECT_GRACE,
    apply_object_gc,
    apply_repair,
    apply_touch,
    plan_object_gc,
    plan_repair,
    plan_touch,
)
from cachetui.ops.objscan import PrefixReport, scan_prefix
from cachetui.ops.policy import format_duration
from cachetui.present import units
from cachetui.store.objects import ObjectStore
from cachetui.store.objkind import is_object_location


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Orphaned blobs and dangling references of s3/azblob cache prefixes.")
    parser.add_argument("sources", nargs="+", metavar="LOCATION",
                        help="type=s3,… / type=azblob,… / s3://BUCKET/PREFIX / "
                             "azblob://ACCOUNT/CONTAINER/PREFIX")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=run)


def configure_touch(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Refresh LastModified on the blobs that kept manifests use, so bucket "
                          "lifecycle rules stop deleting live blobs. Plan first; --yes applies.")
    parser.add_argument("source", metavar="LOCATION")
    parser.add_argument("--name", action="append", default=None,
                        help="only the blobs of this manifest (repeatable; default: all)")
    parser.add_argument("--yes", action="store_true", help="touch the blobs the plan lists")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run_touch)


def open_object_store(text: str) -> ObjectStore:
    """The s3/azblob store, opened by the workspace (so ``read_only`` in the config holds:
    gc, repair and touch are refused there)."""
    if not is_object_location(text):
        raise InvalidInput(f"{text}: not an s3 or azblob location")
    store = Workspace(load_config()).open(parse_location(text))
    assert isinstance(store, ObjectStore)
    return store


def _print_report(report: PrefixReport) -> None:
    print(f"{report.location}: {len(report.manifests)} manifests, {len(report.blobs)} blobs "
          f"({units.size(sum(b.size for b in report.blobs.values()))})")
    print(f"  orphaned blobs: {len(report.orphans)} ({units.size(report.orphaned_bytes)})")
    for orphan in report.orphans[:20]:
        print(f"    {orphan.key}  {units.size(orphan.size)}  {orphan.last_modified:%Y-%m-%d %H:%M}")
    dangling = [m for m in report.manifests if m.missing]
    print(f"  dangling references: {sum(len(m.missing) for m in dangling)}")
    for manifest in dangling:
        for missing in manifest.missing:
            print(f"    {manifest.name}: {missing.key} (layers {list(missing.layers)}, "
                  f"{len(missing.records)} records will miss)")
    for manifest in report.manifests:
        if manifest.error:
            print(f"    {manifest.name}: unreadable: {manifest.error}")


async def run(args: argparse.Namespace) -> int:
    reports: list[dict[str, Any]] = []
    errors: list[str] = []
    for text in args.sources:
        try:
            store = open_object_store(text)
            try:
                report = await scan_prefix(store)
            finally:
                await store.aclose()
        except CachetuiError as exc:
            errors.append(str(exc))
            continue
        reports.append(report.to_json())
        if not args.json:
            _print_report(report)
    if args.json:
        print_json({"prefixes": reports})
    for message in errors:
        error(message)
    if errors and not reports:
        return EXIT_ERROR
    return EXIT_PARTIAL if errors else EXIT_OK


async def run_touch(args: argparse.Namespace) -> int:
    try:
        store = open_object_store(args.source)
        try:
            plan = await plan_touch(store, args.name)
            touched = await apply_touch(plan, store) if args.yes else 0
        finally:
            await store.aclose()
    except CachetuiError as exc:
        error(str(exc))
        return EXIT_ERROR
    if args.json:
        print_json({"plan": plan.to_json(), "touched": touched, "dry_run": not args.yes})
    else:
        print(f"{plan.location}: {len(plan.blobs)} blobs of {len(plan.names)} manifests "
              + ("touched" if args.yes else "to touch (dry run; --yes to apply)"))
    return EXIT_OK


async def object_gc(text: str, *, grace: timedelta | None, yes: bool, repair: bool,
                    as_json: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Plan (and with ``yes`` apply) gc or repair of one s3/azblob prefix."""
    store = open_object_store(text)
    try:
        if repair:
            repair_plan = await plan_repair(store)
            if not as_json:
                print(f"{repair_plan.location}: {len(repair_plan.broken)} manifests reference "
                      "missing blobs")
                for manifest in repair_plan.broken:
                    print(f"  delete manifest {manifest.name} ({len(manifest.missing)} missing "
                          "blobs)")
            deleted = await apply_repair(repair_plan, store) if yes else None
            if deleted is not None and not as_json:
                print(f"{repair_plan.location}: deleted {len(deleted)} manifests")
            return repair_plan.to_json(), (None if deleted is None else {"deleted": deleted})
        plan = await plan_object_gc(store, grace=OBJECT_GRACE if grace is None else grace)
        if not as_json:
            print(f"{plan.location}: {len(plan.delete)} orphaned blobs "
                  f"({units.size(plan.bytes)}) to delete")
            for orphan in plan.delete[:20]:
                print(f"  delete {orphan.key}  {units.size(orphan.size)}")
            if plan.spared:
                print(f"  spared: {len(plan.spared)} orphans younger than "
                      f"{format_duration(plan.grace)}")
        if not yes or not plan.delete:
            return plan.to_json(), None
        result = await apply_object_gc(plan, store)
        if not as_json:
            print(f"{plan.location}: deleted {len(result.deleted)} blobs "
                  f"({units.size(result.bytes)})")
            for key, why in result.kept:
                print(f"  kept {key}: {why}")
            for key, why in result.failed:
                print(f"  failed {key}: {why}")
        return plan.to_json(), result.to_json()
    finally:
        await store.aclose()


def parse_grace(text: str | None) -> timedelta | None:
    return option_duration(text, "--grace") if text else None

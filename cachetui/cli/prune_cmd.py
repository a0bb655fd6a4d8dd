"""``cachetui prune SOURCE...``: delete caches by policy. Prints the plan; ``--yes`` applies it.

The dry run is the default, so a mistyped rule costs nothing. ``--yes`` applies exactly the plan
printed above it, and the result lists every item as deleted, failed (with why) or skipped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import TextIO

from cachetui.cli.common import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, error, print_json, table
from cachetui.cli.gha_prune_cmd import run_gha
from cachetui.cli.registry_args import add_registry_arguments, workspace
from cachetui.config import load_config
from cachetui.errors import CachetuiError, InvalidInput, UsageError
from cachetui.locations import Workspace, parse_location
from cachetui.ops.policy import (
    Policy,
    format_duration,
    override,
    parse_duration,
    parse_size,
    policy_from_config,
)
from cachetui.ops.prune import apply_prune, plan_prune
from cachetui.ops.prune_model import PruneItem, PrunePlan, PruneResult, plan_json, result_json
from cachetui.present import units
from cachetui.present.safe_text import safe
from cachetui.store.base import Store
from cachetui.store.gha.location import is_gha


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Delete cache tags from directories and registries. SOURCE is a cache "
        "directory, DIR:TAG, HOST/REPO or HOST/REPO:TAG (a named tag is selected as it is). "
        "--protect and --exclude always win. The plan is printed first; nothing is deleted "
        "without --yes.")
    parser.add_argument("sources", nargs="+", metavar="SOURCE")
    parser.add_argument("--older-than", metavar="AGE",
                        help="select caches whose newest layer is older than AGE (14d, 12h)")
    parser.add_argument("--keep", type=int, metavar="N",
                        help="keep the N newest caches per --match pattern, select the rest")
    parser.add_argument("--match", action="append", default=[], metavar="GLOB",
                        help="only consider tags matching GLOB (repeatable)")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="never delete tags matching GLOB (repeatable)")
    parser.add_argument("--max-size", metavar="SIZE",
                        help="per source, delete oldest caches until they use at most SIZE (20GiB)")
    parser.add_argument("--protect", action="append", default=[], metavar="TAG",
                        help="never delete TAG (a glob works too; repeatable)")
    parser.add_argument("--policy", metavar="NAME", help="a named policy from the config file")
    parser.add_argument("--include-shared-tags", action="store_true", default=None,
                        help="registries: also delete other tags on the same manifest")
    parser.add_argument("--include-inline-images", action="store_true", default=None,
                        help="also prune images that carry inline cache (--cache-to "
                             "type=inline): these are application images, kept by default")
    parser.add_argument("--grace", metavar="AGE",
                        help="directories: spare blobs younger than AGE (default 10m)")
    gha = parser.add_argument_group("GitHub Actions caches (gha://OWNER/REPO; --match and "
                                    "--exclude take ref globs such as 'refs/pull/*')")
    gha.add_argument("--superseded", action="store_true",
                     help="gha: index generations an import no longer reads")
    gha.add_argument("--orphans", action="store_true",
                     help="gha: blob entries no index names (needs the runtime token)")
    gha.add_argument("--evicted", action="store_true",
                     help="gha: current indexes whose blobs were evicted (needs the runtime token)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="only print the plan (the default)")
    mode.add_argument("--yes", action="store_true", help="apply the plan")
    parser.add_argument("--json", action="store_true", help="print the plan (and result) as JSON")
    add_registry_arguments(parser)
    parser.set_defaults(handler=run)


def policy_from_args(args: argparse.Namespace) -> Policy:
    base = policy_from_config(load_config(), args.policy) if args.policy else Policy()
    try:
        return _override_from_args(base, args)
    except InvalidInput as exc:  # a bad option value is a usage error (exit 2)
        raise UsageError(str(exc)) from None


def _override_from_args(base: Policy, args: argparse.Namespace) -> Policy:
    return override(
        base,
        older_than=parse_duration(args.older_than, option="--older-than") if args.older_than else None,
        keep=args.keep,
        match=tuple(args.match),
        exclude=tuple(args.exclude),
        max_size=parse_size(args.max_size, option="--max-size") if args.max_size else None,
        protect=tuple(args.protect),
        grace=parse_duration(args.grace, option="--grace") if args.grace else None,
        include_shared_tags=args.include_shared_tags,
        include_inline_images=args.include_inline_images,
    )


async def _targets(workspace: Workspace, sources: list[str]
                   ) -> tuple[list[tuple[Store, list[str]]], list[str]]:
    targets: dict[str, tuple[Store, list[str]]] = {}
    errors: list[str] = []
    for text in sources:
        try:
            location = parse_location(text)
            if location.digest is not None:
                raise InvalidInput(f"{text}: name a tag to prune, not a digest")
            expansion = await workspace.expand(location, discover_depth=0)
        except CachetuiError as exc:
            errors.append(str(exc))
            continue
        errors += expansion.problems
        for target in expansion.targets:
            _, named = targets.setdefault(target.store.id, (target.store, []))
            if location.tag is not None:
                named.append(location.tag)
    return list(targets.values()), errors


async def run(args: argparse.Namespace) -> int:
    gha_sources = [text for text in args.sources if is_gha(text)]
    if gha_sources:
        async with workspace(args) as ws:
            code = await run_gha(args, gha_sources, ws)
        args.sources = [text for text in args.sources if not is_gha(text)]
        if not args.sources:
            return code
        rest = await run(args)
        return max(code, rest) if EXIT_USAGE not in (code, rest) else EXIT_USAGE
    policy = policy_from_args(args)
    async with workspace(args) as ws:
        targets, errors = await _targets(ws, args.sources)
        if not policy.selects_by_rule and not any(named for _, named in targets) and not errors:
            error("no rule selects anything: give --older-than, --keep, --match, --max-size, "
                  "--policy or SOURCE:TAG")
            return EXIT_USAGE
        plan = await plan_prune(targets, policy)
        result = None
        if args.yes and plan.has_work:
            result = await apply_prune({store.location: store for store, _ in targets}, plan)
    if args.json:
        print_json({"plan": plan_json(plan, dry_run=not args.yes),
                    "result": None if result is None else result_json(result)})
    else:
        print_plan(plan)
        if result is not None:
            print_result(result)
        elif args.yes:
            print("Nothing to do.")
        else:
            print("Dry run: nothing was deleted. Run again with --yes to apply this plan.")
    for message in errors:
        error(message)
    for message in failure_lines(plan, result):
        error(message)
    # Blocked items (unconfirmed collateral tags) were asked for and not deleted: not a clean run.
    problems = errors or any(source.problems or source.blocked for source in plan.sources)
    if result is not None and not result.ok:
        return EXIT_PARTIAL if any(i.status == "deleted" for i in result.items) else EXIT_ERROR
    if errors and not plan.sources:
        return EXIT_ERROR
    return EXIT_PARTIAL if problems else EXIT_OK


def failure_lines(plan: PrunePlan, result: PruneResult | None) -> list[str]:
    """One line per thing that kept the run from being clean (the exit-3 reasons)."""
    lines = [f"{source.location}: {problem}" for source in plan.sources
             for problem in source.problems]
    lines.extend(f"{source.location}: {item.tag} not deleted: {item.blocked}"
                 for source in plan.sources for item in source.blocked)
    if result is not None:
        for outcome in result.sources:
            lines.extend(f"{outcome.location}: {item.tag}: {item.status}"
                         + (f": {item.message}" if item.message else "")
                         for item in outcome.items if item.status != "deleted")
            lines.extend(f"{outcome.location}: blob {digest[7:19]}: {why}"
                         for digest, why in outcome.blob_failures)
            lines.extend(f"{outcome.location}: {message}" for message in outcome.errors)
    return lines


def _blocked_by_shared_tags(items: Iterable[PruneItem]) -> bool:
    """Whether the CLI's flag would unblock an item (the plan text itself names no CLI flag)."""
    return any(item.needs_shared_tags for item in items)


def print_plan(plan: PrunePlan, out: TextIO | None = None) -> None:
    write = (out or sys.stdout).write
    write(f"Prune plan ({plan.policy.describe()}; grace {format_duration(plan.policy.grace)})\n")
    for source in plan.sources:
        write(f"\n{safe(source.location)} ({source.kind})\n")
        rows = []
        for item in source.items:
            state = "BLOCKED" if item.blocked else "delete"
            rows.append([state, item.tag, item.digest[7:19], item.rule,
                         units.age(item.created), units.size(item.frees_bytes),
                         ", ".join(item.collateral) or "-"])
        if rows:
            write(_indent(table(["ACTION", "TAG", "DIGEST", "RULE", "NEWEST", "FREES",
                                 "COLLATERAL"], rows, right=(5,))) + "\n")
        else:
            write("  nothing selected\n")
        for item in source.items:
            if item.blocked:
                write(f"  blocked {safe(item.tag)}: {safe(item.blocked)}\n")
            elif item.same_manifest_as:
                write(f"  {safe(item.tag)}: same manifest as {safe(item.same_manifest_as)}\n")
        if _blocked_by_shared_tags(source.items):
            write("  pass --include-shared-tags to delete the shared tags with them\n")
        if source.kept:
            kept = ", ".join(f"{d.tag} ({d.reason})" for d in source.kept[:8])
            more = f" and {len(source.kept) - 8} more" if len(source.kept) > 8 else ""
            write(f"  kept: {safe(kept)}{more}\n")
        if source.garbage_blobs:
            write(f"  also {source.garbage_blobs} unreferenced blobs "
                  f"({units.size(source.garbage_bytes)})\n")
        if source.stale_ingest:
            write(f"  also {len(source.stale_ingest)} stale ingest/ entries\n")
        for note in source.notes:
            write(f"  note: {safe(note)}\n")
        for problem in source.problems:
            write(f"  problem: {safe(problem)}\n")
        write(f"  total: {units.count(len(source.active), 'tag')}, frees "
              f"{units.size(source.total_bytes)}\n")
    write(f"\nTotal: {units.count(plan.item_count, 'tag')}, frees {units.size(plan.total_bytes)}\n")


def print_result(result: PruneResult) -> None:
    print("\nResult:")
    for source in result.sources:
        print(safe(source.location))
        for item in source.items:
            tail = f": {item.message}" if item.message else ""
            print(f"  {item.status} {safe(item.tag)}{safe(tail)}")
        if source.blobs_deleted or source.blob_failures:
            print(f"  {source.blobs_deleted} blobs deleted ({units.size(source.bytes_deleted)})"
                  f", {len(source.blob_failures)} failed")
        for digest, why in source.blob_failures:
            print(f"  failed blob {digest[7:19]}: {safe(why)}")
        if source.ingest_deleted:
            print(f"  {source.ingest_deleted} stale ingest/ entries removed")
        for message in source.errors:
            print(f"  error: {safe(message)}")
        for note in source.notes:
            print(f"  note: {safe(note)}")


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())

"""``cachetui prune gha://OWNER/REPO``: plan by the gha rules, print, and with ``--yes`` delete
exactly the planned entries by id."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from cachetui.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    error,
    option_duration,
    print_json,
    table,
)
from cachetui.cli.gha_view import each_gha
from cachetui.locations import Workspace
from cachetui.ops.gha_prune import (
    GhaPrunePlan,
    GhaPruneResult,
    GhaRules,
    apply_gha_prune,
    plan_gha_prune,
)
from cachetui.present import units
from cachetui.present.safe_text import safe

if TYPE_CHECKING:  # the gha store brings httpx: it loads when a gha source is opened
    from cachetui.store.gha.inventory import GhaInventory
    from cachetui.store.gha.store import GhaStore


def rules_from_args(args: argparse.Namespace) -> GhaRules:
    return GhaRules(
        superseded=bool(getattr(args, "superseded", False)),
        older_than=option_duration(args.older_than, "--older-than") if args.older_than
        else None,
        match=tuple(args.match), exclude=tuple(args.exclude) + tuple(args.protect),
        orphans=bool(getattr(args, "orphans", False)),
        evicted=bool(getattr(args, "evicted", False)))


async def run_gha(args: argparse.Namespace, texts: list[str], workspace: Workspace) -> int:
    rules = rules_from_args(args)
    if not rules.selects:
        error("no rule selects anything in a gha cache: give --superseded, --older-than, "
              "--match (ref globs such as 'refs/pull/*'), --orphans or --evicted")
        return EXIT_USAGE
    plans: list[GhaPrunePlan] = []
    results: list[GhaPruneResult] = []
    errors: list[str] = []

    async def visit(store: GhaStore, inventory: GhaInventory) -> None:
        findings = await store.findings() if (rules.orphans or rules.evicted) else None
        plan = plan_gha_prune(store.location, inventory, rules, findings=findings)
        plans.append(plan)
        if args.yes and plan.items:
            results.append(await apply_gha_prune(store.rest, plan))

    await each_gha(texts, workspace, errors, visit)
    if args.json:
        print_json({"plan": [p.to_json() for p in plans], "dry_run": not args.yes,
                    "result": [r.to_json() for r in results] if args.yes else None})
    else:
        for plan in plans:
            print_plan(plan)
        for result in results:
            print_result(result)
        if plans and not args.yes:
            print("Dry run: nothing was deleted. Run again with --yes to apply this plan.")
    for message in errors:
        error(message)
    if any(not r.ok for r in results):
        return EXIT_PARTIAL if any(r.freed_bytes for r in results) else EXIT_ERROR
    if errors:
        return EXIT_PARTIAL if plans else EXIT_ERROR
    return EXIT_PARTIAL if any(p.problems for p in plans) else EXIT_OK


def print_plan(plan: GhaPrunePlan) -> None:
    write = sys.stdout.write
    write(safe(f"Prune plan for {plan.location} (gha): {plan.rules.describe()}") + "\n")
    rows = [["delete", item.entry.key, item.entry.ref, item.rule,
             units.age(item.entry.created_at), units.size(item.entry.size)]
            for item in plan.items]
    if rows:
        write("  " + table(["ACTION", "KEY", "REF", "RULE", "CREATED", "FREES"], rows,
                           right=(5,)).replace("\n", "\n  ") + "\n")
    else:
        write("  nothing selected\n")
    if plan.kept_refs:
        write(safe(f"  kept refs: {', '.join(plan.kept_refs)}") + "\n")
    for note in plan.notes:
        write(safe(f"  note: {note}") + "\n")
    for problem in plan.problems:
        write(safe(f"  problem: {problem}") + "\n")
    write(f"  total: {len(plan.items)} entries, frees {units.size(plan.total_bytes)}\n")


def print_result(result: GhaPruneResult) -> None:
    print(f"\nResult: {safe(result.location)}")
    for outcome in result.outcomes:
        tail = f": {outcome.message}" if outcome.message else ""
        print(safe(f"  {outcome.status} {outcome.item.entry.key} ({outcome.item.entry.ref}){tail}"))
    print(f"  freed {units.size(result.freed_bytes)}")

"""Print a plan, stop on ``--dry-run``, else apply it with a progress line: shared by the
commands that write (copy, re-export)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from cachetui.cli.common import EXIT_OK, print_json
from cachetui.cli.endpoints import ProgressLine
from cachetui.errors import CachetuiError
from cachetui.ops.progress import CancelToken, ProgressSink


class JsonPlan(Protocol):
    def to_json(self) -> dict[str, Any]: ...


PlanT = TypeVar("PlanT", bound=JsonPlan)
ResultT = TypeVar("ResultT", bound=JsonPlan)


async def show_then_apply(
    args: argparse.Namespace,
    plan: PlanT,
    describe_plan: Callable[[PlanT], str],
    apply: Callable[[ProgressSink, CancelToken], Awaitable[ResultT]],
    describe_result: Callable[[ResultT, float], str],
) -> int:
    """The plan goes out first (human or ``--json``); with ``--dry-run`` nothing else happens."""
    if not args.json:
        print(describe_plan(plan), flush=True)
    if args.dry_run:
        if args.json:
            print_json({"plan": plan.to_json()})
        return EXIT_OK
    progress = ProgressLine(enabled=None if not args.json else False)
    started = time.monotonic()
    try:
        result = await apply(progress, CancelToken())
    finally:
        progress.close()
    if args.json:
        print_json(result.to_json())
    else:
        print(describe_result(result, time.monotonic() - started))
    return EXIT_OK


def refuse_clobber(destination: str, tags: list[tuple[str, str | None]]) -> None:
    """``--no-clobber``: a destination tag that exists and would move stops the command."""
    taken = [(tag, digest) for tag, digest in tags if digest]
    if taken:
        tag, digest = taken[0]
        more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
        raise CachetuiError(f"{destination}:{tag} exists ({digest}){more}; --no-clobber "
                            "refuses to replace it")

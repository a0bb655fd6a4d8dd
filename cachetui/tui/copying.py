"""``c`` (copy) and ``r`` (re-export) on the main screen: a dialog, then a job in the jobs panel.

Copy takes the marked caches (or the one under the cursor); re-export the one under the cursor.
Both write, so both are hidden with ``--read-only`` (the simple rule: in read-only mode no action
that writes is offered, whatever the destination); a read-only source is refused as a destination
by the dialogs (:mod:`cachetui.tui.destinations`). The job refreshes the destination when it ends;
a destination that was not open yet is opened as a new source, so the result shows in the table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from cachetui.locations import Location, SourceRequest
from cachetui.ops.copy import CopyResult, apply_copy
from cachetui.ops.progress import CancelToken, ProgressSink
from cachetui.ops.reexport import ReexportResult, apply_reexport
from cachetui.store.base import Store
from cachetui.tui import extensions, opening
from cachetui.tui.destinations import DestinationRules, known_destinations, place, rules_for
from cachetui.tui.jobs import Job, JobRun
from cachetui.tui.modals.copy_dialog import CopyDialog, CopyOrder, Picked
from cachetui.tui.modals.reexport_dialog import ReexportDialog, ReexportOrder

if TYPE_CHECKING:
    from cachetui.tui.model import Row
    from cachetui.tui.screens.main import MainScreen


def _main(screen: object) -> MainScreen | None:
    from cachetui.tui.screens.main import MainScreen

    return screen if isinstance(screen, MainScreen) else None


def _usable(screen: MainScreen, row: Row | None) -> bool:
    return (row is not None and row.entry.analysis is not None and row.entry.tag != "(source)"
            and row.source_id in screen.targets)


def current_row(screen: MainScreen) -> Row | None:
    from cachetui.tui.widgets.cache_table import CacheTable

    row = screen.query_one(CacheTable).current()
    return row if _usable(screen, row) else None


def chosen_rows(screen: MainScreen) -> list[Row]:
    """The marked caches, in marking order, or the one under the cursor."""
    marked = [row for row in screen.marked_rows() if _usable(screen, row)]
    if marked:
        return marked
    current = current_row(screen)
    return [current] if current is not None else []


def _picked(screen: MainScreen, row: Row) -> Picked:
    return Picked(screen.targets[row.source_id].store, row.source_id, row.entry.tag)


def _open(screen: MainScreen) -> tuple[list[str], Callable[[Location], Awaitable[Store]]]:
    app = screen.cachetui
    known = known_destinations(screen.sources.values(), app.config)
    return known, partial(opening.open_destination, app.workspace)


def _rules(screen: MainScreen, picks: list[Picked], *, default_tag: str | None = None
           ) -> DestinationRules:
    read_only = [target.store.id for source_id, target in screen.targets.items()
                 if screen.sources.get(source_id) and screen.sources[source_id].read_only]
    return rules_for([(p.store.id, p.tag) for p in picks], read_only, screen.cachetui.workspace,
                     default_tag=default_tag)


def _finish(screen: MainScreen, location: Location, destination: Store) -> None:
    """Show a destination that was not open yet: a new repository of an open registry host
    joins under it (its catalog is read again), anything else opens as a new source."""
    if destination.location in screen.targets or not screen.is_attached:
        return
    group = screen.group_of_host(location.api_host) if location.kind == "registry" else None
    if group is not None:
        screen.expand_again(group)
    else:
        screen.load(SourceRequest(place(location)))


def _start(screen: MainScreen, title: str, location: Location, destination: Store,
           work: JobRun) -> Job:
    known = destination.location in screen.targets
    return screen.cachetui.start_job(title, work,
                                     refresh=(destination.location,) if known else ())


# ---- copy -----------------------------------------------------------------------------------


def start_copy_job(screen: MainScreen, order: CopyOrder) -> Job:
    async def run(sink: ProgressSink, token: CancelToken) -> list[CopyResult]:
        results = [await apply_copy(plan, store, order.destination, sink=sink, cancel=token)
                   for store, plan in order.plans]
        _finish(screen, order.spec, order.destination)
        return results

    tags = [tag.source_ref for _, plan in order.plans for tag in plan.tags]
    what = tags[0] if len(tags) == 1 else f"{len(tags)} caches"
    return _start(screen, f"copy {what} → {order.spec.text}", order.spec, order.destination, run)


def open_copy(screen: object) -> None:
    main = _main(screen)
    if main is None:
        return
    rows = chosen_rows(main)
    if not rows:
        main.notify("Nothing to copy: mark caches or move to one", severity="warning")
        return
    picks = [_picked(main, row) for row in rows]
    rules = _rules(main, picks)
    known, opener = _open(main)

    def decided(order: CopyOrder | None) -> None:
        if order is not None:
            main.marks.keys.clear()
            start_copy_job(main, order)

    main.app.push_screen(CopyDialog(picks, rules, known, opener), decided)


# ---- re-export ------------------------------------------------------------------------------


def start_reexport_job(screen: MainScreen, order: ReexportOrder) -> Job:
    async def run(sink: ProgressSink, token: CancelToken) -> ReexportResult:
        result = await apply_reexport(order.plan, order.source, order.destination, sink=sink,
                                      cancel=token)
        _finish(screen, order.spec, order.destination)
        return result

    plan = order.plan
    return _start(screen, f"re-export {plan.source_ref} → {plan.destination_tag}", order.spec,
                  order.destination, run)


def open_reexport(screen: object) -> None:
    main = _main(screen)
    if main is None:
        return
    row = current_row(main)
    if row is None:
        main.notify("Nothing to re-export: move to a cache", severity="warning")
        return
    pick = _picked(main, row)
    rules = _rules(main, [pick])
    known, opener = _open(main)

    def decided(order: ReexportOrder | None) -> None:
        if order is not None:
            start_reexport_job(main, order)

    dialog = ReexportDialog(pick.store, pick.source_id, pick.tag, rules, known,
                            opener,
                            uncompressed_sizes=main.cachetui.uncompressed.sizes())
    main.app.push_screen(dialog, decided)


def _can_copy(screen: object) -> bool:
    main = _main(screen)
    return main is not None and bool(chosen_rows(main))


def _can_reexport(screen: object) -> bool:
    main = _main(screen)
    return main is not None and current_row(main) is not None


# Both write: ``destructive`` is what hides an action in read-only mode (nothing is deleted).
extensions.register_action(extensions.ScreenAction(
    name="copy.copy-to", screen="main", description="Copy", run=open_copy, key="c",
    help="Copy the marked caches (or the current one) to a directory or registry",
    destructive=True, available=_can_copy,
    unavailable="move to a cache that was read (or mark some) first",
))
extensions.register_action(extensions.ScreenAction(
    name="copy.reexport", screen="main", description="Re-export", run=open_reexport, key="r",
    help="Re-export the current cache: compression, media types, form, min (a new tag)",
    destructive=True, available=_can_reexport,
    unavailable="move to a cache that was read first",
))

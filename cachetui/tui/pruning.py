"""``d`` on the main screen: the prune plan of the marked (or current) caches, then a job.

The plan is shown in :class:`~cachetui.tui.modals.prune_plan.PrunePlanModal`; applying runs
:func:`apply_prune` as a job, and the sources it touched are rescanned when it ends. Hidden in
read-only mode; rows of read-only sources are left out.
"""

from __future__ import annotations

from cachetui.errors import CachetuiError
from cachetui.ops.policy import Policy, override, policy_from_config
from cachetui.ops.progress import CancelToken, ProgressSink
from cachetui.ops.prune import apply_prune, plan_prune
from cachetui.ops.prune_model import PrunePlan, PruneResult
from cachetui.store.base import Store
from cachetui.tui import extensions
from cachetui.tui.modals.prune_plan import MARKED, PruneOptions, PrunePlanModal
from cachetui.tui.model import Row
from cachetui.tui.screens.main import MainScreen
from cachetui.tui.widgets.cache_table import CacheTable


def _chosen_rows(screen: MainScreen) -> list[Row]:
    rows = screen.marked_rows()
    if not rows:
        current = screen.query_one(CacheTable).current()
        rows = [current] if current is not None else []
    return [row for row in rows if row.entry.tag != "(source)" and row.source_id in screen.targets]


def _writable(screen: MainScreen, rows: list[Row]) -> list[Row]:
    return [row for row in rows
            if not (screen.sources.get(row.source_id) and screen.sources[row.source_id].read_only)]


def available(screen: object) -> bool:
    return isinstance(screen, MainScreen) and bool(_writable(screen, _chosen_rows(screen)))


def selection(screen: MainScreen) -> tuple[dict[str, Store], list[tuple[Store, list[str]]]]:
    """Stores by location, and each store with the tags chosen on it."""
    stores: dict[str, Store] = {}
    named: dict[str, list[str]] = {}
    for row in _writable(screen, _chosen_rows(screen)):
        store = screen.targets[row.source_id].store
        stores[store.location] = store
        named.setdefault(store.location, []).append(row.entry.tag)
    return stores, [(stores[location], tags) for location, tags in named.items()]


def open_prune(screen: object) -> None:
    assert isinstance(screen, MainScreen)
    rows = _chosen_rows(screen)
    writable = _writable(screen, rows)
    if len(writable) < len(rows):
        screen.notify(f"{len(rows) - len(writable)} marked caches are on read-only sources and "
                      "are left out", severity="warning")
    if not writable:
        return
    stores, chosen = selection(screen)
    source_ids = tuple(sorted({row.source_id for row in writable}))

    config = screen.cachetui.config

    async def replan(options: PruneOptions) -> PrunePlan:
        """The marked caches, or a named policy of the config over their whole sources."""
        changes: dict[str, object] = {"include_shared_tags": options.include_shared or None}
        if options.grace is not None:
            changes["grace"] = options.grace
        if options.policy == MARKED:
            return await plan_prune(chosen, override(Policy(), **changes))
        policy = override(policy_from_config(config, options.policy), **changes)
        return await plan_prune([(store, []) for store in stores.values()], policy)

    async def show() -> None:
        try:
            plan = await replan(PruneOptions())
        except CachetuiError as exc:
            screen.notify(str(exc), title="Prune", severity="error")
            return

        def decided(approved: PrunePlan | None) -> None:
            if approved is not None:
                start_prune_job(screen, stores, approved, source_ids)

        screen.app.push_screen(PrunePlanModal(plan, replan, policies=sorted(config.policies)),
                               decided)

    screen.run_worker(show(), group="prune-plan", name="prune plan", exit_on_error=False)


def start_prune_job(screen: MainScreen, stores: dict[str, Store], plan: PrunePlan,
                    source_ids: tuple[str, ...]) -> None:
    async def run(sink: ProgressSink, token: CancelToken) -> PruneResult:
        result = await apply_prune(stores, plan, progress=sink, cancel=token)
        failed = [item for item in result.items if item.status == "failed"]
        if failed:
            deleted = sum(1 for item in result.items if item.status == "deleted")
            raise CachetuiError(f"{deleted} deleted, {len(failed)} failed: "
                                f"{failed[0].tag}: {failed[0].message}")
        return result

    screen.marks.keys.clear()
    count = plan.item_count
    screen.cachetui.start_job(f"prune {count} cache{'s' if count != 1 else ''}", run,
                              refresh=source_ids)


extensions.register_action(extensions.ScreenAction(
    name="prune.plan",
    screen="main",
    description="Prune",
    run=open_prune,
    key="d",
    help="Delete the marked caches (or the current one): shows the plan first",
    destructive=True,
    modifies_source=True,
    available=available,
    unavailable="move to a cache on a writable source (or mark some) first",
))

"""``C`` (collect garbage) on the main screen and in the source view: the gc plan of a cache
directory or an s3/azblob prefix in :class:`~cachetui.tui.modals.gc_plan.GcPlanModal`, then a
cancellable job that applies exactly that plan (:func:`cachetui.ops.gc.apply_gc`,
:func:`cachetui.ops.objgc.apply_object_gc`, as ``cachetui gc --yes``); the source is rescanned
when it ends. Hidden in read-only mode and on read-only sources."""

from __future__ import annotations

from datetime import timedelta

from cachetui.errors import CachetuiError, Cancelled
from cachetui.ops.gc import apply_gc, plan_store_gc
from cachetui.ops.objgc import OBJECT_GRACE, ObjectGcPlan, apply_object_gc, plan_object_gc
from cachetui.ops.objscan import has_object_listing
from cachetui.ops.policy import DEFAULT_GRACE
from cachetui.ops.progress import CancelToken, ProgressSink
from cachetui.store.base import CollectsGarbage, Store
from cachetui.store.garbage import GcResult
from cachetui.tui import extensions
from cachetui.tui.modals.gc_plan import GcPlanModal, GcView, directory_view, object_view
from cachetui.tui.screens.base import ExtensibleScreen
from cachetui.tui.screens.main import MainScreen
from cachetui.tui.screens.source import SourceScreen


def _target(screen: object) -> tuple[str, Store, bool] | None:
    """(source id, store, read-only) of the source the screen's gc acts on."""
    if isinstance(screen, SourceScreen):
        return screen.state.id, screen.store, screen.state.read_only
    if isinstance(screen, MainScreen):
        source_id = screen.chosen_source()
        if source_id is None or source_id not in screen.sources:
            return None
        return source_id, screen.targets[source_id].store, screen.sources[source_id].read_only
    return None


def collects(store: Store) -> bool:
    """A directory (the store collects its own garbage) or an s3/azblob prefix."""
    return isinstance(store, CollectsGarbage) or (
        has_object_listing(store) and hasattr(store, "delete_blob"))


def available(screen: object) -> bool:
    target = _target(screen)
    return target is not None and collects(target[1]) and not target[2]


def open_gc(screen: object) -> None:
    assert isinstance(screen, ExtensibleScreen)
    target = _target(screen)
    if target is None or not collects(target[1]):
        screen.notify("gc works on cache directories and s3/azblob prefixes: move to one",
                      severity="warning")
        return
    source_id, store, read_only = target
    if read_only:
        screen.notify("this source is read-only", severity="warning")
        return

    objects = not isinstance(store, CollectsGarbage)

    async def replan(grace: timedelta) -> GcView:
        if objects:
            return object_view(await plan_object_gc(store, grace=grace))  # type: ignore[arg-type]
        return directory_view(await plan_store_gc(store, grace=grace))

    async def show() -> None:
        try:
            plan = await replan(OBJECT_GRACE if objects else DEFAULT_GRACE)
        except CachetuiError as exc:
            screen.notify(str(exc), title="GC", severity="error", markup=False)
            return

        def decided(approved: GcView | None) -> None:
            if approved is not None:
                start_gc_job(screen, source_id, store, approved)

        screen.app.push_screen(GcPlanModal(plan, replan, screen.cachetui.now()), decided)

    screen.run_worker(show(), group="gc-plan", name="gc plan", exit_on_error=False)


def start_gc_job(screen: ExtensibleScreen, source_id: str, store: Store, view: GcView) -> None:
    async def run(sink: ProgressSink, token: CancelToken) -> object:
        plan = view.plan
        if isinstance(plan, ObjectGcPlan):
            done = await apply_object_gc(plan, store, cancel=token)  # type: ignore[arg-type]
            failed, deleted = done.failed, len(done.deleted)
            result: object = done
        else:
            collected: GcResult = await apply_gc(store, plan, progress=sink, cancel=token)
            if collected.cancelled:
                raise Cancelled(f"gc cancelled after {len(collected.deleted)} of "
                                f"{len(plan.blobs)} blobs")
            failed, deleted = collected.failed, len(collected.deleted)
            result = collected
        if failed:
            name, why = failed[0]
            raise CachetuiError(f"{deleted} deleted, {len(failed)} failed: {name}: {why}")
        return result

    screen.cachetui.start_job(f"gc {view.location}", run, refresh=(source_id,))


for _screen in ("main", "source"):
    extensions.register_action(extensions.ScreenAction(
        name=f"gc.collect-{_screen}", screen=_screen, description="GC", run=open_gc, key="C",
        help="Collect garbage of a cache directory or s3/azblob prefix: blobs nothing names "
             "(plan first, grace period, cancellable)",
        destructive=True, available=available, show=_screen == "source",
        unavailable="gc works on a writable cache directory or object store: move to one",
    ))

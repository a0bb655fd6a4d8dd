"""Garbage collection of a cache directory, as an operation: plan, then sweep exactly the plan.

The work is done by the store (:class:`~cachetui.store.base.CollectsGarbage`; for a directory,
:mod:`cachetui.store.layout_gc`); this module is the use case the CLI, the TUI and prune call.
"""

from __future__ import annotations

from datetime import timedelta

from cachetui.errors import UnsupportedOperation
from cachetui.ops.policy import DEFAULT_GRACE
from cachetui.progress import CancelToken, ProgressSink, no_progress
from cachetui.store.base import CollectsGarbage, Store
from cachetui.store.garbage import GcPlan, GcResult
from cachetui.store.layout import LayoutStore
from cachetui.store.layout_gc import plan_gc as plan_layout_gc
from cachetui.store.layout_gc import sweep_sync

__all__ = ["GcPlan", "GcResult", "apply_gc", "collector", "plan_gc", "plan_store_gc",
           "sweep_sync"]


def plan_gc(store: LayoutStore, *, grace: timedelta = DEFAULT_GRACE,
            now: float | None = None) -> GcPlan:
    """The GC plan of a directory, computed in this thread (tests, benchmarks)."""
    return plan_layout_gc(store, grace=grace, now=now)


def collector(store: Store) -> CollectsGarbage:
    """The store's garbage collection, or a one-line error when it has none."""
    if not isinstance(store, CollectsGarbage):
        raise UnsupportedOperation(f"{store.location}: this store does not collect its own "
                                   "garbage")
    return store


async def plan_store_gc(store: Store, *, grace: timedelta = DEFAULT_GRACE) -> GcPlan:
    return await collector(store).plan_garbage(grace=grace)


async def apply_gc(store: Store, plan: GcPlan, *, progress: ProgressSink = no_progress,
                   cancel: CancelToken | None = None) -> GcResult:
    """Delete exactly the plan's blobs and ingest entries that are still garbage."""
    return await collector(store).collect_garbage(plan, progress=progress, cancel=cancel)

"""What each store can give back now, from the maintenance plans cachetui already makes: gc of a
directory, gc of an s3/azblob prefix, and a GitHub Actions cache's superseded generations and
orphaned blob entries. Nothing is deleted; the figures are the plans' own, so "reclaimable" in
the space report and what ``gc``/``objects gc``/``prune --gha`` then free never disagree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta
from typing import Protocol, runtime_checkable

from cachetui.errors import CachetuiError
from cachetui.ops.gha_prune import GhaRules, plan_gha_prune
from cachetui.ops.objgc import OBJECT_GRACE, plan_object_gc
from cachetui.ops.objscan import has_object_listing
from cachetui.ops.policy import DEFAULT_GRACE, format_duration
from cachetui.ops.space import Reclaim
from cachetui.store.base import CollectsGarbage, Store
from cachetui.store.gha.inventory import ContentFindings, GhaInventory

PARALLEL = 4
"""Stores planned at once."""
REGISTRY_NOTE = "a registry frees unreferenced blobs with its own garbage collection"


@runtime_checkable
class HasGhaInventory(Protocol):
    """A GitHub Actions cache: entries by REST, index contents with a runtime token."""

    async def inventory(self) -> GhaInventory: ...

    async def findings(self) -> ContentFindings | None: ...


def gha_reclaim(location: str, inventory: GhaInventory,
                findings: ContentFindings | None) -> Reclaim:
    """Superseded index generations (always safe: an import reads only the newest) and, with the
    index contents, orphaned blob entries: exactly what ``prune --superseded --orphans`` plans."""
    rules = GhaRules(superseded=True, orphans=findings is not None)
    plan = plan_gha_prune(location, inventory, rules, findings=findings)
    how = ("superseded generations and orphaned blob entries" if findings is not None
           else "superseded generations (orphaned blob entries need the runtime token)")
    return Reclaim(plan.total_bytes, 0, how + " (cachetui prune)")


async def reclaim_of(store: Store, *, grace: timedelta | None = None) -> Reclaim:
    """The store's reclaimable bytes now and after the grace period (``grace``: the store's
    default, 10m for directories and 1h for object stores, as ``gc`` uses)."""
    try:
        if isinstance(store, CollectsGarbage):
            spare = DEFAULT_GRACE if grace is None else grace
            plan = await store.plan_garbage(grace=spare)
            later = sum(b.size for b in plan.spared) + sum(e.size for e in plan.ingest_spared)
            return Reclaim(plan.bytes + plan.ingest_bytes, later,
                           f"unreferenced blobs (cachetui gc, grace {format_duration(spare)})")
        if has_object_listing(store):
            spare = OBJECT_GRACE if grace is None else grace
            found = await plan_object_gc(store, grace=spare)  # type: ignore[arg-type]
            return Reclaim(found.bytes, sum(o.size for o in found.spared),
                           f"orphaned blobs (cachetui gc, grace {format_duration(spare)})")
        if isinstance(store, HasGhaInventory):
            return gha_reclaim(store.location, await store.inventory(), await store.findings())
    except CachetuiError as exc:
        return Reclaim(None, 0, "", error=str(exc))
    return Reclaim(None, 0, REGISTRY_NOTE)


async def reclaim_all(stores: Iterable[Store], *, grace: timedelta | None = None
                      ) -> dict[str, Reclaim]:
    """:func:`reclaim_of` of every store, ``PARALLEL`` at a time, by location."""
    limit = asyncio.Semaphore(PARALLEL)
    chosen = list(stores)

    async def one(store: Store) -> Reclaim:
        async with limit:
            return await reclaim_of(store, grace=grace)

    found = await asyncio.gather(*(one(store) for store in chosen))
    return {store.location: value for store, value in zip(chosen, found, strict=True)}

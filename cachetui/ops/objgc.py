"""gc, repair and touch for s3/azblob caches: plan first, then apply exactly that plan.

- **gc** deletes orphaned blobs (named by no manifest under the prefix) whose LastModified is
  older than the grace period (default 1 hour: a build may be uploading blobs whose manifest it
  writes last). Right before deleting, the manifests are listed and read again; a blob a manifest
  names by then is kept. Each deletion is one object, so a kill at any point leaves every manifest
  with all its blobs, and a second run finishes the job.
- **repair** deletes the manifests that reference missing blobs (the #3223 failure: BuildKit
  imports them and then fails the build with a 404), or only reports them.
- **touch** refreshes LastModified on the blobs kept manifests use, so lifecycle rules that count
  from it stop deleting live blobs (what BuildKit's ``touch_refresh`` does on export).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from cachetui.buildkit.times import format_time
from cachetui.errors import CachetuiError
from cachetui.ops.objscan import ManifestFacts, ObjectCacheStore, Orphan, PrefixReport, scan_prefix
from cachetui.ops.progress import CancelToken

OBJECT_GRACE: Final = timedelta(hours=1)
DELETE_CONCURRENCY: Final = 8


class ObjectMaintenance(ObjectCacheStore, Protocol):
    async def delete_blob(self, digest: str) -> None: ...

    async def delete_tag(self, tag: str) -> None: ...

    async def touch_blob(self, digest: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ObjectGcPlan:
    location: str
    grace: timedelta
    now: datetime
    delete: tuple[Orphan, ...]
    spared: tuple[Orphan, ...]
    """Orphans younger than the grace period."""
    report: PrefixReport = field(repr=False)

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.delete)

    def to_json(self) -> dict[str, Any]:
        def item(o: Orphan) -> dict[str, Any]:
            return {"key": o.key, "size": o.size, "lastModified": format_time(o.last_modified)}

        return {"location": self.location, "graceSeconds": int(self.grace.total_seconds()),
                "delete": [item(o) for o in self.delete], "bytes": self.bytes,
                "spared": [item(o) for o in self.spared]}


@dataclass(slots=True)
class ObjectGcResult:
    location: str
    deleted: list[Orphan] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.deleted)

    def to_json(self) -> dict[str, Any]:
        return {"location": self.location, "deleted": [o.key for o in self.deleted],
                "bytes": self.bytes, "kept": [{"key": k, "why": w} for k, w in self.kept],
                "failed": [{"key": k, "error": e} for k, e in self.failed]}


async def plan_object_gc(store: ObjectCacheStore, *, grace: timedelta = OBJECT_GRACE,
                         now: datetime | None = None) -> ObjectGcPlan:
    report = await scan_prefix(store)
    unreadable = [m for m in report.manifests if m.error]
    if unreadable:
        raise CachetuiError(f"manifest {unreadable[0].name} cannot be read ({unreadable[0].error});"
                            " gc stops: the blobs it names are unknown", where=store.location)
    now = now or datetime.now(UTC)
    delete = tuple(o for o in report.orphans if now - o.last_modified >= grace)
    spared = tuple(o for o in report.orphans if now - o.last_modified < grace)
    return ObjectGcPlan(store.location, grace, now, delete, spared, report)


async def apply_object_gc(plan: ObjectGcPlan, store: ObjectMaintenance, *,
                          cancel: CancelToken | None = None) -> ObjectGcResult:
    """Delete the planned orphans that are still orphans now (manifests re-read first)."""
    cancel = cancel or CancelToken()
    result = ObjectGcResult(plan.location)
    fresh = await scan_prefix(store)
    unreadable = [m for m in fresh.manifests if m.error]
    if unreadable:
        result.failed.extend((o.key, "a manifest cannot be read; nothing deleted")
                             for o in plan.delete)
        return result
    referenced = fresh.referenced
    current = {o.digest: o for o in fresh.orphans}
    semaphore = asyncio.Semaphore(DELETE_CONCURRENCY)

    async def delete(orphan: Orphan) -> None:
        if orphan.digest in referenced:
            result.kept.append((orphan.key, "a manifest names it now"))
            return
        now_info = current.get(orphan.digest)
        if now_info is None:
            result.kept.append((orphan.key, "already gone"))
            return
        if now_info.last_modified > orphan.last_modified:
            result.kept.append((orphan.key, "written again since the plan"))
            return
        async with semaphore:
            cancel.check()
            try:
                await store.delete_blob(orphan.digest)
            except CachetuiError as exc:
                result.failed.append((orphan.key, str(exc)))
                return
        result.deleted.append(orphan)

    await asyncio.gather(*(delete(o) for o in plan.delete))
    result.deleted.sort(key=lambda o: o.key)
    return result


@dataclass(frozen=True, slots=True)
class RepairPlan:
    location: str
    broken: tuple[ManifestFacts, ...]

    def to_json(self) -> dict[str, Any]:
        return {"location": self.location, "manifests": [
            {"name": m.name, "key": m.key,
             "missing": [{"key": x.key, "layers": list(x.layers), "records": list(x.records)}
                         for x in m.missing]} for m in self.broken]}


async def plan_repair(store: ObjectCacheStore) -> RepairPlan:
    report = await scan_prefix(store)
    return RepairPlan(store.location, tuple(m for m in report.manifests if m.missing))


async def apply_repair(plan: RepairPlan, store: ObjectMaintenance) -> list[str]:
    """Delete each broken manifest that is still broken; returns the names deleted."""
    fresh = {m.name: m for m in (await scan_prefix(store)).manifests}
    deleted: list[str] = []
    for manifest in plan.broken:
        now = fresh.get(manifest.name)
        if now is None or not now.missing:
            continue
        await store.delete_tag(manifest.name)
        deleted.append(manifest.name)
    return deleted


@dataclass(frozen=True, slots=True)
class TouchPlan:
    location: str
    names: tuple[str, ...]
    blobs: tuple[str, ...]
    """Blob digests to touch: present, named by the chosen manifests."""

    def to_json(self) -> dict[str, Any]:
        return {"location": self.location, "manifests": list(self.names),
                "blobs": list(self.blobs)}


async def plan_touch(store: ObjectCacheStore, names: list[str] | None = None) -> TouchPlan:
    report = await scan_prefix(store)
    chosen = [m for m in report.manifests if names is None or m.name in names]
    blobs = sorted({d for m in chosen for d in m.blobs if d in report.blobs})
    return TouchPlan(store.location, tuple(m.name for m in chosen), tuple(blobs))


async def apply_touch(plan: TouchPlan, store: ObjectMaintenance) -> int:
    semaphore = asyncio.Semaphore(DELETE_CONCURRENCY)

    async def one(digest: str) -> None:
        async with semaphore:
            await store.touch_blob(digest)

    await asyncio.gather(*(one(d) for d in plan.blobs))
    return len(plan.blobs)

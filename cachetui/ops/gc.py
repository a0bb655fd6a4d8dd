"""Garbage collection of a local cache directory: BuildKit's ``reset=true`` rule, done safely.

What is kept is decided from ``index.json`` only (index → manifests/indexes → config and layers):
an old manifest that nothing tags still names reused layers (fixture ``local-max-twice``), so
starting from every manifest file would keep garbage alive.

Safety, in order of importance:
- Only a blob that no ``index.json`` entry reaches is ever deleted, and the decision is re-made
  under BuildKit's ``index.json.lock`` right before deleting, holding the lock until done, so an
  export cannot re-tag a blob between the decision and the unlink.
- A reachable manifest that cannot be read stops GC: its children are unknown.
- Blobs (and ``ingest/`` entries) younger than the grace period are spared: a build may be
  writing them and about to tag them (BuildKit issue #7102).
- Each deletion is one ``unlink`` of an unreachable blob, so a crash at any point leaves every
  tag intact; running GC again finishes the job.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from cachetui.errors import Cancelled, LayoutError
from cachetui.ops.policy import DEFAULT_GRACE
from cachetui.ops.progress import CancelToken, Progress, ProgressSink, no_progress
from cachetui.store.fsutil import flocked, fsync_dir, in_use
from cachetui.store.layout import BlobFile, IngestEntry, LayoutStore, Reachability


@dataclass(frozen=True, slots=True)
class GcPlan:
    """What a GC of one directory would delete, and what it spares."""

    location: str
    grace: timedelta
    blobs: tuple[BlobFile, ...]
    """Unreachable blobs older than the grace period: these go."""
    spared: tuple[BlobFile, ...]
    """Unreachable blobs younger than the grace period: kept for now."""
    ingest: tuple[IngestEntry, ...]
    """Stale ``ingest/`` entries (older than the grace period)."""
    ingest_spared: tuple[IngestEntry, ...]
    reachable: int
    missing: tuple[str, ...]
    """Reachable blobs that are not on disk (reported, not an error: the OCI spec allows it)."""

    @property
    def bytes(self) -> int:
        return sum(blob.size for blob in self.blobs)

    @property
    def ingest_bytes(self) -> int:
        return sum(entry.size for entry in self.ingest)


@dataclass(slots=True)
class GcResult:
    """What a sweep did: every planned blob ends up in exactly one of these lists."""

    location: str
    deleted: list[BlobFile] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    """(digest, why) for planned blobs that were not deleted on purpose (reachable now, young)."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    ingest_deleted: list[str] = field(default_factory=list)
    ingest_failed: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False

    @property
    def bytes(self) -> int:
        return sum(blob.size for blob in self.deleted)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.ingest_failed and not self.cancelled


def refuse_on_problems(reach: Reachability, location: str) -> None:
    if reach.problems:
        raise LayoutError(
            f"refusing to collect garbage: a tagged manifest cannot be read, so what it keeps "
            f"alive is unknown ({reach.problems[0]})",
            where=location,
        )


def plan_gc(store: LayoutStore, *, grace: timedelta = DEFAULT_GRACE,
            now: float | None = None) -> GcPlan:
    """The GC plan of a directory (no lock needed: the sweep re-decides under the lock)."""
    reach = store.reachability_sync()
    refuse_on_problems(reach, store.location)
    return plan_from(reach, store.location, grace, now)


def plan_from(reach: Reachability, location: str, grace: timedelta,
              now: float | None = None) -> GcPlan:
    cutoff = (time.time() if now is None else now) - grace.total_seconds()
    garbage = reach.unreferenced
    return GcPlan(
        location=location,
        grace=grace,
        blobs=tuple(blob for blob in garbage if blob.mtime <= cutoff),
        spared=tuple(blob for blob in garbage if blob.mtime > cutoff),
        ingest=tuple(entry for entry in reach.ingest if entry.mtime <= cutoff),
        ingest_spared=tuple(entry for entry in reach.ingest if entry.mtime > cutoff),
        reachable=len(reach.reachable),
        missing=tuple(sorted(reach.missing)),
    )


async def apply_gc(store: LayoutStore, plan: GcPlan, *, progress: ProgressSink = no_progress,
                   cancel: CancelToken | None = None) -> GcResult:
    """Delete exactly the plan's blobs and ingest entries that are still garbage."""
    import asyncio

    return await asyncio.to_thread(
        sweep_sync, store, [blob.digest for blob in plan.blobs],
        [entry.name for entry in plan.ingest], grace=plan.grace, progress=progress,
        cancel=cancel or CancelToken())


def sweep_sync(store: LayoutStore, blobs: Iterable[str], ingest: Iterable[str], *,
               grace: timedelta, progress: ProgressSink = no_progress,
               cancel: CancelToken | None = None) -> GcResult:
    """Delete the given blobs and ingest entries that are, under the lock, still garbage and old."""
    store.check_writable()
    cancel = cancel or CancelToken()
    result = GcResult(store.location)
    planned = list(blobs)
    with flocked(store.lock_path, exclusive=True, required=True):
        reach = store.reachability_sync(locked=True)
        refuse_on_problems(reach, store.location)
        cutoff = time.time() - grace.total_seconds()
        try:
            for done, digest in enumerate(planned):
                if done % 256 == 0:
                    cancel.check()
                    progress(Progress("gc", done, len(planned), "blobs", store.location))
                _sweep_one(store, reach, digest, cutoff, result)
            for name in ingest:
                cancel.check()
                _sweep_ingest(store, name, cutoff, result)
        except Cancelled:
            result.cancelled = True
        finally:
            fsync_dir(store.root / "blobs" / "sha256")
    progress(Progress("gc", len(result.deleted), len(planned), "blobs", store.location))
    return result


def _sweep_one(store: LayoutStore, reach: Reachability, digest: str, cutoff: float,
               result: GcResult) -> None:
    if digest in reach.reachable:
        result.kept.append((digest, "reachable from index.json now"))
        return
    if digest not in reach.blobs:
        result.kept.append((digest, "already gone"))
        return
    path = store.blob_path(digest)
    try:
        stat = path.lstat()
        if stat.st_mtime > cutoff:
            result.kept.append((digest, "younger than the grace period"))
            return
        path.unlink()  # the one destructive step, on an unreachable blob only
    except FileNotFoundError:
        result.kept.append((digest, "already gone"))
        return
    except OSError as exc:
        result.failed.append((digest, exc.strerror or str(exc)))
        return
    result.deleted.append(BlobFile(reach.blobs[digest].digest, stat.st_size, stat.st_mtime))


def _sweep_ingest(store: LayoutStore, name: str, cutoff: float, result: GcResult) -> None:
    leftover = store.leftover_path(name)
    if leftover is None and ("/" in name or name in ("", ".", "..")):
        result.ingest_failed.append((name, "not an ingest entry name"))
        return
    path = leftover if leftover is not None else store.root / "ingest" / name
    try:
        newest = max((entry.stat(follow_symlinks=False).st_mtime
                      for entry in os.scandir(path)), default=path.lstat().st_mtime) \
            if path.is_dir() and not path.is_symlink() else path.lstat().st_mtime
    except FileNotFoundError:
        return
    except OSError as exc:
        result.ingest_failed.append((name, exc.strerror or str(exc)))
        return
    if newest > cutoff or (leftover is not None and in_use(path)):
        return  # a write in progress holds its temp file: it is not a leftover
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError as exc:
        result.ingest_failed.append((name, exc.strerror or str(exc)))
        return
    result.ingest_deleted.append(name)

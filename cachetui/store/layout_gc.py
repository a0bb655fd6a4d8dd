"""Index maintenance and garbage collection of a local cache directory: its own component.

:class:`LayoutMaintenance` is what :class:`~cachetui.store.layout.LayoutFiles` offers through the
``Untags`` and ``CollectsGarbage`` capabilities (:mod:`cachetui.store.base`); operations use those,
never the layout's synchronous internals. GC is BuildKit's ``reset=true`` rule, done safely.

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

import asyncio
import os
import shutil
import time
from collections.abc import Collection, Iterable
from datetime import timedelta

from cachetui.errors import Cancelled, LayoutError
from cachetui.oci.models import Descriptor
from cachetui.progress import CancelToken, Progress, ProgressSink, no_progress
from cachetui.store.fsutil import flocked, fsync_dir, in_use
from cachetui.store.garbage import (
    BlobFile,
    GcPlan,
    GcResult,
    LayoutFiles,
    Reachability,
    tag_of,
)


def refuse_on_problems(reach: Reachability, location: str) -> None:
    if reach.problems:
        raise LayoutError(
            f"refusing to collect garbage: a tagged manifest cannot be read, so what it keeps "
            f"alive is unknown ({reach.problems[0]})",
            where=location,
        )


def plan_gc(store: LayoutFiles, *, grace: timedelta, now: float | None = None,
            without: Collection[tuple[str, str]] = ()) -> GcPlan:
    """The GC plan of a directory (no lock needed: the sweep re-decides under the lock).

    ``without``: (tag, manifest digest) entries to count as gone (a prune plans what their
    removal frees before removing them).
    """
    if without:
        removed = set(without)
        roots = [d for d in store.read_index_sync().manifests
                 if (tag_of(d), d.digest) not in removed]
        reach = store.reachability_sync(roots=roots)
    else:
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


def sweep_sync(store: LayoutFiles, blobs: Iterable[str], ingest: Iterable[str], *,
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


def _sweep_one(store: LayoutFiles, reach: Reachability, digest: str, cutoff: float,
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


def _sweep_ingest(store: LayoutFiles, name: str, cutoff: float, result: GcResult) -> None:
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


class LayoutMaintenance:
    """Untagging and garbage collection of one cache directory, async, off the event loop."""

    def __init__(self, store: LayoutFiles) -> None:
        self.store = store

    async def untag(self, entries: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        """Remove these (tag, manifest digest) entries of ``index.json`` in one atomic rewrite
        under the lock; other tags on the same manifests stay. Returns those that were there."""
        wanted = set(entries)
        found: set[tuple[str, str]] = set()

        def drop(manifests: list[Descriptor]) -> list[Descriptor]:
            kept = []
            for descriptor in manifests:
                tag = tag_of(descriptor)
                key = (tag, descriptor.digest) if tag is not None else None
                if key is not None and key in wanted:
                    found.add(key)
                else:
                    kept.append(descriptor)
            return kept

        await asyncio.to_thread(self.store.update_index_sync, drop)
        return found

    async def plan(self, *, grace: timedelta, without: Collection[tuple[str, str]] = (),
                   now: float | None = None) -> GcPlan:
        return await asyncio.to_thread(plan_gc, self.store, grace=grace, without=without,
                                       now=now)

    async def sweep(self, plan: GcPlan, *, progress: ProgressSink = no_progress,
                    cancel: CancelToken | None = None) -> GcResult:
        """Delete exactly the plan's blobs and ingest entries that are still garbage."""
        return await asyncio.to_thread(
            sweep_sync, self.store, [blob.digest for blob in plan.blobs],
            [entry.name for entry in plan.ingest], grace=plan.grace, progress=progress,
            cancel=cancel or CancelToken())

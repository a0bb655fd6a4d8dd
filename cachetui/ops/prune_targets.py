"""The one place where pruning by untagging and pruning by deleting digests really differ.

Which applies is asked of the store's capabilities (:mod:`cachetui.store.base`), never its class:

- A store that ``Untags`` (a directory) drops its ``index.json`` entries (one atomic rewrite
  under the flock), other tags on the same manifest stay; then, if it ``CollectsGarbage``, the
  blobs no remaining tag reaches are collected (BuildKit's ``reset=true`` rule, sparing young
  blobs: :mod:`cachetui.store.layout_gc`).
- A store that ``DeletesByDigest`` (a registry) deletes a manifest by digest, and with it every
  tag on that digest (distribution untags them all): those tags are collateral and must be
  confirmed. Blob space comes back only when the registry runs its own garbage collection.
- A store with neither gets every item blocked, with the reason.

Everything else (reading tags, policies, byte counting) is shared in :mod:`cachetui.ops.prune`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from cachetui.errors import CachetuiError, NotFound, RegistryError, UnsupportedOperation
from cachetui.oci.digest import Digest
from cachetui.ops.progress import CancelToken, Progress, ProgressSink
from cachetui.ops.prune_model import ItemResult, SourcePlan, SourceResult, deleted_tags
from cachetui.store.base import CollectsGarbage, DeletesByDigest, Store, Untags

REGISTRY_GC_NOTE = (
    "registry space comes back only after the registry's own garbage collection "
    "(distribution: `registry garbage-collect`; hosted registries run theirs on their schedule)"
)


def refused_deletes_message(location: str) -> str:
    return (
        f"{location}: the registry refuses deletes (405 UNSUPPORTED). Enable them on the registry "
        "(distribution: storage.delete.enabled: true, or REGISTRY_STORAGE_DELETE_ENABLED=true) or "
        "delete through the vendor's API or web UI (GHCR: the GitHub Packages API; Docker Hub: "
        "Hub's UI or API)"
    )


def _is_refusal(exc: CachetuiError) -> bool:
    if isinstance(exc, UnsupportedOperation):
        return True
    return isinstance(exc, RegistryError) and (exc.status == 405 or exc.code == "UNSUPPORTED")


class Target(Protocol):
    deletes_by_digest: bool
    """Deleting one tag deletes its manifest and so every tag on it."""

    def collateral(self, tag: str, digest: str, tags: Mapping[str, str]) -> tuple[str, ...]: ...

    async def finish_plan(self, store: Store, plan: SourcePlan,
                          blob_sets: Mapping[str, dict[str, int]]) -> None:
        """Fill in ``plan.freed`` (and blob/ingest deletions where the tool does them)."""
        ...

    async def apply(self, store: Store, plan: SourcePlan, *, progress: ProgressSink,
                    cancel: CancelToken) -> SourceResult: ...


def target_for(store: Store) -> Target:
    """Untag or delete-by-digest semantics, from what the store can do."""
    if isinstance(store, Untags):
        return DirectoryTarget() if isinstance(store, CollectsGarbage) else UntagOnlyTarget()
    if isinstance(store, DeletesByDigest):
        return RegistryTarget()
    return CannotDeleteTarget()


def _skipped_blocked(plan: SourcePlan, result: SourceResult) -> None:
    for item in plan.blocked:
        result.items.append(ItemResult(item.tag, item.digest, "skipped", item.blocked or ""))


class DirectoryTarget:
    deletes_by_digest = False

    def collateral(self, tag: str, digest: str, tags: Mapping[str, str]) -> tuple[str, ...]:
        return ()  # untagging leaves other tags on the same manifest in place

    async def finish_plan(self, store: Store, plan: SourcePlan,
                          blob_sets: Mapping[str, dict[str, int]]) -> None:
        if not isinstance(store, CollectsGarbage):
            plan.freed = {}
            return  # untagging frees what the store's own collection later takes
        removed = [(item.tag, item.digest) for item in plan.active]
        try:
            gc = await store.plan_garbage(grace=plan.grace, without=removed)
        except CachetuiError as exc:
            plan.problems.append(f"blobs will not be collected: {exc}")
            return
        plan.freed = {blob.digest: blob.size for blob in gc.blobs}
        plan.delete_blobs = tuple(blob.digest for blob in gc.blobs)
        plan.spared_bytes = sum(blob.size for blob in gc.spared)
        plan.stale_ingest = tuple(entry.name for entry in gc.ingest)
        plan.gc = gc
        if gc.spared:
            plan.notes.append(f"{len(gc.spared)} unreferenced blobs are younger than the grace "
                              "period and are kept for now (a build may be writing them)")

    async def apply(self, store: Store, plan: SourcePlan, *, progress: ProgressSink,
                    cancel: CancelToken) -> SourceResult:
        assert isinstance(store, Untags)
        result = SourceResult(plan.location)
        wanted = {(item.tag, item.digest) for item in plan.active}
        found: set[tuple[str, str]] = set()
        if wanted:
            if cancel.cancelled:
                for item in plan.active:
                    result.items.append(ItemResult(item.tag, item.digest, "failed", "cancelled"))
                _skipped_blocked(plan, result)
                return result
            try:
                found = await store.untag(wanted)
            except CachetuiError as exc:
                for item in plan.active:
                    result.items.append(ItemResult(item.tag, item.digest, "failed", str(exc)))
                result.errors.append(f"index.json not changed, no blob deleted: {exc}")
                _skipped_blocked(plan, result)
                return result
        for item in plan.active:
            if (item.tag, item.digest) in found:
                result.items.append(ItemResult(item.tag, item.digest, "deleted"))
            else:
                result.items.append(ItemResult(item.tag, item.digest, "failed",
                                               "the tag no longer points at the planned manifest"))
        _skipped_blocked(plan, result)
        if (plan.delete_blobs or plan.stale_ingest) and plan.gc is not None \
                and isinstance(store, CollectsGarbage):
            try:
                swept = await store.collect_garbage(plan.gc, progress=progress, cancel=cancel)
            except CachetuiError as exc:
                result.errors.append(f"blobs not collected: {exc}")
                return result
            result.blobs_deleted = len(swept.deleted)
            result.bytes_deleted = swept.bytes
            result.blob_failures = swept.failed + swept.ingest_failed
            result.ingest_deleted = len(swept.ingest_deleted)
            if swept.kept:
                result.notes.append(f"{len(swept.kept)} planned blobs were kept: "
                                    f"{swept.kept[0][1]}")
            if swept.cancelled:
                result.errors.append("cancelled while collecting blobs; run `cachetui gc` to finish")
        return result


class RegistryTarget:
    deletes_by_digest = True
    space_note = REGISTRY_GC_NOTE

    def collateral(self, tag: str, digest: str, tags: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(sorted(other for other, d in tags.items() if d == digest and other != tag))

    async def finish_plan(self, store: Store, plan: SourcePlan,
                          blob_sets: Mapping[str, dict[str, int]]) -> None:
        gone = deleted_tags(plan)
        survivors: set[str] = set()
        for tag, digest in plan.tags.items():
            if tag not in gone:
                survivors.update(blob_sets.get(digest, {}))
        freed: dict[str, int] = {}
        for item in plan.active:
            for digest, size in blob_sets.get(item.digest, {}).items():
                if digest not in survivors:
                    freed[digest] = size
        plan.freed = freed
        if plan.items:
            plan.notes.append(self.space_note)
            plan.notes.append("bytes freed are an estimate: blobs that untagged manifests or "
                              "other repositories use stay")

    async def apply(self, store: Store, plan: SourcePlan, *, progress: ProgressSink,
                    cancel: CancelToken) -> SourceResult:
        result = SourceResult(plan.location)
        outcome: dict[str, ItemResult] = {}
        refusal: str | None = None
        active = plan.active
        for done, item in enumerate(active):
            progress(Progress("prune", done, len(active), "manifests", plan.location))
            if self.deletes_by_digest and item.digest in outcome:
                first = outcome[item.digest]
                result.items.append(ItemResult(item.tag, item.digest, first.status,
                                               first.message or f"same manifest as {first.tag}"))
                continue
            if refusal is not None:
                status = ItemResult(item.tag, item.digest, "failed", refusal)
            elif cancel.cancelled:
                status = ItemResult(item.tag, item.digest, "failed", "cancelled")
            else:
                status = await self._delete(store, item.tag, item.digest, item.collateral)
                if status.status == "failed" and status.message.startswith("refused:"):
                    refusal = refused_deletes_message(plan.location)
                    status = ItemResult(item.tag, item.digest, "failed", refusal)
                    result.errors.append(refusal)
            outcome[item.digest] = status
            result.items.append(status)
        _skipped_blocked(plan, result)
        if any(item.status == "deleted" for item in result.items):
            result.notes.append(self.space_note)
        return result

    async def _delete(self, store: Store, tag: str, digest: str,
                      collateral: tuple[str, ...]) -> ItemResult:
        try:
            for name in (tag, *collateral):
                now = (await store.resolve(name)).digest
                if now != digest:
                    return ItemResult(tag, digest, "failed",
                                      f"tag {name} moved to {Digest(now).short} since the plan")
            assert isinstance(store, DeletesByDigest)
            await store.delete_by_digest(Digest(digest))
        except NotFound as exc:
            return ItemResult(tag, digest, "failed", f"changed since the plan: {exc}")
        except CachetuiError as exc:
            if _is_refusal(exc):
                return ItemResult(tag, digest, "failed", f"refused: {exc}")
            return ItemResult(tag, digest, "failed", str(exc))
        also = f"also removed tags {', '.join(collateral)}" if collateral else ""
        return ItemResult(tag, digest, "deleted", also)


class UntagOnlyTarget(RegistryTarget):
    """A store that untags but does not collect its own garbage (s3/azblob): every manifest
    name is its own object, so a name goes alone (two names with the same bytes are not
    collateral of each other); blobs stay until gc deletes the orphans."""

    deletes_by_digest = False
    space_note = ("blobs stay until `cachetui gc LOCATION` deletes the orphans (older than its "
                  "grace period)")

    def collateral(self, tag: str, digest: str, tags: Mapping[str, str]) -> tuple[str, ...]:
        return ()

    async def _delete(self, store: Store, tag: str, digest: str,
                      collateral: tuple[str, ...]) -> ItemResult:
        assert isinstance(store, Untags)
        try:
            now = (await store.resolve(tag)).digest
            if now != digest:
                return ItemResult(tag, digest, "failed",
                                  f"manifest {tag} changed to {Digest(now).short} since the plan")
            if not await store.untag([(tag, digest)]):
                return ItemResult(tag, digest, "failed", f"manifest {tag} changed since the plan")
        except NotFound as exc:
            return ItemResult(tag, digest, "failed", f"changed since the plan: {exc}")
        except CachetuiError as exc:
            return ItemResult(tag, digest, "failed", str(exc))
        return ItemResult(tag, digest, "deleted", "")


class CannotDeleteTarget:
    """A store with neither capability: every selected item is blocked, saying why."""

    deletes_by_digest = False

    def collateral(self, tag: str, digest: str, tags: Mapping[str, str]) -> tuple[str, ...]:
        return ()

    async def finish_plan(self, store: Store, plan: SourcePlan,
                          blob_sets: Mapping[str, dict[str, int]]) -> None:
        for item in plan.items:
            item.blocked = item.blocked or "this store cannot delete caches"
        plan.freed = {}

    async def apply(self, store: Store, plan: SourcePlan, *, progress: ProgressSink,
                    cancel: CancelToken) -> SourceResult:
        result = SourceResult(plan.location)
        _skipped_blocked(plan, result)
        return result

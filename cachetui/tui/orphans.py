"""What a source holds that no cache uses, and what its caches name that is gone: the facts the
source view shows, gathered from the ops models the CLI prints (``cachetui objects``/``inspect``
for s3/azblob, ``cachetui gc`` for a directory, ``ls`` for gha). Textual-free."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from cachetui.ops.objscan import has_object_listing, scan_prefix
from cachetui.ops.policy import DEFAULT_GRACE, format_duration
from cachetui.present import units
from cachetui.store.base import CollectsGarbage, Store


@dataclass(frozen=True, slots=True)
class Orphaned:
    """A blob no cache of the source names."""

    name: str
    """Its key (object stores, gha) or digest (directories)."""
    size: int
    modified: datetime | None
    note: str = ""

    @property
    def short(self) -> str:
        """The name with its digest cut to 12 hex digits (``blobs/sha256:0a09f9bd1452``)."""
        head, sep, hexpart = self.name.partition("sha256:")
        return f"{head}{sep}{hexpart[:12]}" if sep else self.name


@dataclass(slots=True)
class SourceFindings:
    orphans: list[Orphaned] = field(default_factory=list)
    dangling: list[str] = field(default_factory=list)
    """One line per missing blob: which cache names it and what will miss."""
    summary: str = ""
    visible: bool = True
    """False where the store's API cannot show orphans (a registry)."""

    @property
    def orphaned_bytes(self) -> int:
        return sum(o.size for o in self.orphans)


async def findings_of(store: Store) -> SourceFindings:
    """Orphans and dangling references of one source (reads only)."""
    if has_object_listing(store):
        report = await scan_prefix(store)  # type: ignore[arg-type]
        out = SourceFindings([Orphaned(o.key, o.size, o.last_modified) for o in report.orphans])
        for manifest in report.manifests:
            for missing in manifest.missing:
                out.dangling.append(
                    f"{manifest.name}: {missing.key} (layers {', '.join(map(str, missing.layers))}; "
                    f"{units.count(len(missing.records), 'record')} will miss)")
            if manifest.error:
                out.dangling.append(f"{manifest.name}: unreadable: {manifest.error}")
        blob_bytes = sum(b.size for b in report.blobs.values())
        out.summary = (f"{units.count(len(report.manifests), 'manifest')}, "
                       f"{units.count(len(report.blobs), 'blob')} ({units.size(blob_bytes)}) "
                       "under the prefix")
        return out
    if isinstance(store, CollectsGarbage):
        plan = await store.plan_garbage(grace=DEFAULT_GRACE)
        grace = format_duration(plan.grace)
        out = SourceFindings(
            [Orphaned(b.digest, b.size, datetime.fromtimestamp(b.mtime, UTC)) for b in plan.blobs]
            + [Orphaned(b.digest, b.size, datetime.fromtimestamp(b.mtime, UTC),
                        f"younger than {grace}") for b in plan.spared])
        out.dangling = [f"{digest}: a tag reaches it; the file is missing"
                        for digest in plan.missing]
        out.summary = (f"{units.count(plan.reachable, 'blob')} reachable from the tags, "
                       f"{units.count(len(plan.ingest), 'stale ingest entry', 'stale ingest entries')}")
        return out
    findings = getattr(store, "findings", None)
    if findings is not None:
        content = await findings()
        if content is None:
            return SourceFindings(summary="orphaned blob entries need a runtime token "
                                          "(ACTIONS_RUNTIME_TOKEN) to read the indexes",
                                  visible=False)
        out = SourceFindings([Orphaned(e.key, e.size, e.last_accessed_at)
                              for e in content.orphaned])
        out.dangling = [f"{health.cache.name}: {digest}: evicted (no blob entry holds it)"
                        for health in content.health for digest in health.evicted]
        out.summary = (f"{units.count(len(content.only_superseded), 'blob entry', 'blob entries')}"
                       " named only by superseded generations")
        return out
    return SourceFindings(summary="a registry's API lists no blobs that no tag names: its own "
                                  "garbage collection removes them", visible=False)

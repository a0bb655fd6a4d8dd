"""What ``inspect`` adds for s3/azblob caches: dangling references and orphans of the prefix."""

from __future__ import annotations

from typing import Any

from cachetui.errors import CachetuiError
from cachetui.ops.inventory import CacheEntry
from cachetui.ops.objscan import PrefixReport, has_object_listing, scan_prefix
from cachetui.present import units
from cachetui.present.safe_text import safe
from cachetui.store.base import Store


async def reports_of(stores: list[Store], errors: list[str]) -> dict[str, PrefixReport]:
    """One prefix report per object store, by location; failures go to ``errors``."""
    out: dict[str, PrefixReport] = {}
    for store in stores:
        if not has_object_listing(store):
            continue
        try:
            out[store.location] = await scan_prefix(store)  # type: ignore[arg-type]
        except CachetuiError as exc:
            errors.append(str(exc))
    return out


def facts_for(reports: dict[str, PrefixReport], entry: CacheEntry) -> dict[str, Any] | None:
    report = reports.get(entry.source)
    if report is None:
        return None
    manifest = next((m for m in report.manifests if m.name == entry.tag), None)
    dangling = [] if manifest is None else [
        {"key": x.key, "blob": x.digest, "layers": list(x.layers), "records": list(x.records)}
        for x in manifest.missing]
    return {"danglingReferences": dangling, "orphanedBlobs": len(report.orphans),
            "orphanedBytes": report.orphaned_bytes, "sharedBlobs": len(report.shared)}


def lines_for(reports: dict[str, PrefixReport], entry: CacheEntry) -> list[str]:
    facts = facts_for(reports, entry)
    if facts is None:
        return []
    lines = [f"  orphaned      {facts['orphanedBlobs']} blobs under the prefix "
             f"({units.size(facts['orphanedBytes'])}); `cachetui gc` removes them"]
    dangling = facts["danglingReferences"]
    if dangling:
        lines.append(f"  DANGLING      {len(dangling)} blobs this manifest names are gone: a build "
                     "that needs them fails with 404 (`cachetui gc --repair`)")
        for item in dangling:
            lines.append(f"                {safe(item['key'])}: {len(item['records'])} records "
                         "will miss")
    return lines

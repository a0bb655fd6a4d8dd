"""``ls`` and ``inspect`` of GitHub Actions caches: the REST inventory (generations, refs, bytes,
usage against the limit), and with a runtime token the same analysis as any other cache plus
evicted and orphaned blob entries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cachetui.errors import CachetuiError
from cachetui.locations import Workspace, parse_location
from cachetui.ops.inventory import CacheEntry, collect, scan_store
from cachetui.present import units
from cachetui.report import cache_json

if TYPE_CHECKING:
    # The gha store brings httpx (~80 ms of start-up): it loads when a gha source is opened,
    # not for every ``ls``, ``inspect`` or ``space`` (bench/bench_startup.py).
    from cachetui.store.gha.inventory import ContentFindings, GhaCache, GhaInventory
    from cachetui.store.gha.store import GhaStore


@dataclass(slots=True)
class GhaListing:
    location: str
    inventory: GhaInventory
    entries: dict[str, CacheEntry] = field(default_factory=dict)
    findings: ContentFindings | None = None
    contents_readable: bool = False


async def each_gha(texts: list[str], workspace: Workspace, errors: list[str],
                   visit: Callable[[GhaStore, GhaInventory], Awaitable[None]]) -> None:
    """``visit`` every gha source with its REST inventory (``ls``, ``inspect``, ``prune``): a
    source that fails to open, to list or in ``visit`` adds its one line to ``errors`` and the
    others go on."""
    for text in texts:
        try:
            store = workspace.open(parse_location(text))
            from cachetui.store.gha.store import GhaStore  # loaded by the opener

            assert isinstance(store, GhaStore)
            await visit(store, await store.inventory())
        except CachetuiError as exc:
            errors.append(str(exc))


async def gather_gha(texts: list[str], workspace: Workspace
                     ) -> tuple[list[GhaListing], list[str]]:
    """Inventory every gha source; read contents where a runtime token allows."""
    listings: list[GhaListing] = []
    errors: list[str] = []

    async def visit(store: GhaStore, inventory: GhaInventory) -> None:
        listing = GhaListing(store.location, inventory)
        if store.runtime is not None:
            listing.contents_readable = True
            found, scan_errors, _ = await collect(scan_store(store))
            listing.entries = {entry.tag: entry for entry in found}
            errors.extend(scan_errors)
            listing.findings = await store.findings()
        listings.append(listing)

    await each_gha(texts, workspace, errors, visit)
    return listings, errors


async def listings_of(stores: list[object], entries: list[CacheEntry]) -> list[GhaListing]:
    """The gha facts of the gha stores among ``stores`` (inventory is already cached by a scan)."""
    out = []
    for store in stores:
        if getattr(store, "kind", None) != "gha":
            continue  # no import of the gha store (and httpx) for other stores
        from cachetui.store.gha.store import GhaStore  # loaded by the opener

        if isinstance(store, GhaStore):
            out.append(GhaListing(store.location, await store.inventory(),
                                  {e.tag: e for e in entries if e.source == store.location},
                                  findings=await store.findings(),
                                  contents_readable=store.runtime is not None))
    return out


def facts_for(listings: list[GhaListing], source: str, tag: str) -> dict[str, Any] | None:
    for listing in listings:
        if listing.location == source:
            cache = listing.inventory.cache(tag)
            if cache is not None:
                return _facts(listing, cache)
    return None


def _evicted(listing: GhaListing, cache: GhaCache) -> int | None:
    if listing.findings is None:
        return None
    for health in listing.findings.health:
        if health.cache.name == cache.name:
            return len(health.evicted)
    return None


def rows(listing: GhaListing) -> list[list[str]]:
    out = []
    for cache in listing.inventory.caches:
        entry = listing.entries.get(cache.name)
        analysis = entry.analysis if entry is not None else None
        evicted = _evicted(listing, cache)
        out.append([
            f"{listing.location}:{cache.name}",
            f"#{cache.current.key.rsplit('#', 1)[-1]}",
            str(len(cache.superseded)),
            units.size(cache.superseded_bytes),
            str(analysis.layer_count) if analysis else "-",
            units.size(analysis.size_bytes) if analysis else "-",
            units.size(analysis.minmax.min_bytes) if analysis else "-",
            units.size(analysis.minmax.delta_bytes) if analysis else "-",
            "-" if evicted is None else str(evicted),
            units.age(cache.current.created_at),
        ])
    return out


HEADERS = ["CACHE", "CURRENT", "SUPERSEDED", "WASTED", "LAYERS", "SIZE", "MIN", "MAX-MIN",
           "EVICTED", "WRITTEN"]


def summary(listing: GhaListing) -> list[str]:
    from cachetui.store.gha.inventory import ages

    inventory = listing.inventory
    used = inventory.usage_bytes if inventory.usage_bytes is not None else inventory.total_bytes
    share = 100.0 * used / inventory.limit_bytes if inventory.limit_bytes else 0.0
    lines = [
        f"{listing.location}: {len(inventory.entries)} entries, {units.size(used)} of "
        f"{units.size(inventory.limit_bytes)} ({share:.1f}% of the repository limit; GitHub "
        "evicts beyond it)",
        f"  {len(inventory.blobs)} blob entries ({units.size(inventory.blob_bytes)}), "
        f"{units.size(inventory.deduplicated_bytes)} if each key were stored once; "
        f"{sum(len(c.superseded) for c in inventory.caches)} superseded generations "
        f"({units.size(inventory.superseded_bytes)})",
    ]
    for ref in inventory.per_ref():
        newest = ages(e for e in inventory.entries if e.ref == ref.ref).newest
        lines.append(f"  {ref.ref}: {ref.entries} entries, {units.size(ref.bytes)}, newest "
                     f"{units.age(newest)}")
    if inventory.other:
        lines.append(f"  {len(inventory.other)} entries are not BuildKit's")
    findings = listing.findings
    if findings is not None:
        lines.append(f"  orphaned blob entries: {len(findings.orphaned)} "
                     f"({units.size(findings.orphaned_bytes)}); named only by superseded "
                     f"generations: {len(findings.only_superseded)}")
        for health in findings.health:
            if health.evicted:
                entry = listing.entries.get(health.cache.name)
                roles: dict[str, str] = {layer.digest: str(layer.role) for layer in
                         (entry.analysis.layers if entry and entry.analysis else ())}
                lines.append(f"  {health.cache.name}: {len(health.evicted)} evicted blob(s); "
                             "a build that needs one fails with \"blob not found\" ("
                             "final-chain layers are needed by every build with an output): "
                             + ", ".join(f"{d[7:19]} ({roles.get(d, '?')})"
                                         for d in health.evicted))
    elif not listing.contents_readable:
        lines.append("  (index contents need the runtime token of a workflow run: layers, "
                     "min/max, evicted and orphaned blobs are not shown)")
    return lines


def listing_json(listing: GhaListing, *, layers: bool = False) -> list[dict[str, Any]]:
    out = []
    inventory = listing.inventory
    for cache in inventory.caches:
        entry = listing.entries.get(cache.name)
        row: dict[str, Any] = cache_json(entry, layers=layers) if entry is not None else {
            "source": listing.location, "store": "gha", "tag": cache.name, "digest": None}
        row["gha"] = _facts(listing, cache)
        out.append(row)
    return out


def _facts(listing: GhaListing, cache: GhaCache) -> dict[str, Any]:
    inventory = listing.inventory
    evicted = next((list(h.evicted) for h in (listing.findings.health if listing.findings
                                              else ()) if h.cache.name == cache.name), None)
    orphaned = None if listing.findings is None else [
        _entry_json(e) for e in listing.findings.orphaned]
    return {
            "repository": inventory.repository,
            "scope": cache.scope,
            "ref": cache.ref,
            "signed": cache.signed,
            "current": _entry_json(cache.current),
            "superseded": [_entry_json(e) for e in cache.superseded],
            "superseded_bytes": cache.superseded_bytes,
            "evicted_blobs": evicted,
            "orphaned_blob_entries": orphaned,
            "usage_bytes": inventory.usage_bytes,
            "limit_bytes": inventory.limit_bytes,
    }


def _entry_json(entry: Any) -> dict[str, Any]:
    return {"id": entry.id, "key": entry.key, "ref": entry.ref, "size": entry.size,
            "created_at": entry.created_at.isoformat(),
            "last_accessed_at": entry.last_accessed_at.isoformat()}

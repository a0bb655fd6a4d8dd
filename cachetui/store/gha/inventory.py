"""A repository's Actions cache entries grouped into BuildKit caches. Pure (no I/O).

From the REST listing alone: per scope and ref the index generations (the newest is what an
import reads; the others are superseded, pure waste), the blob entries, bytes per ref and
deduplicated by key, ages by ``created_at`` (``last_accessed_at`` moves with every lookup). With
index contents (runtime token): which blobs each current index needs, the evicted ones (the
"blob not found" failure) and the orphaned blob entries no current index references.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cachetui.store.gha.keys import IndexKey, blob_digest, parse_index_key, ref_hash

DEFAULT_LIMIT_BYTES: Final = 10 * 1024**3
"""GitHub's default per-repository cache limit; entries beyond it are evicted."""


@dataclass(frozen=True, slots=True)
class EntryInfo:
    """One cache entry as the REST API lists it."""

    id: int
    key: str
    ref: str
    version: str
    size: int
    created_at: datetime
    last_accessed_at: datetime


@dataclass(frozen=True, slots=True)
class GhaCache:
    """The index generations of one scope written from one ref."""

    scope: str
    ref: str
    signed: bool
    generations: tuple[tuple[int, EntryInfo], ...]
    """(generation number, entry), oldest first."""

    @property
    def name(self) -> str:
        """How cachetui names it: ``SCOPE@REF`` (``-sig`` appended for signed caches)."""
        return f"{self.scope}{'-sig' if self.signed else ''}@{self.ref}"

    @property
    def current(self) -> EntryInfo:
        """What an import reads: the newest entry matching ``index-…#``."""
        return max((entry for _, entry in self.generations),
                   key=lambda e: (e.created_at, parse_generation(e.key), e.id))

    @property
    def superseded(self) -> tuple[EntryInfo, ...]:
        current = self.current
        return tuple(entry for _, entry in self.generations if entry is not current)

    @property
    def superseded_bytes(self) -> int:
        return sum(entry.size for entry in self.superseded)

    @property
    def hash_matches_ref(self) -> bool:
        return all(parse_generation_key(e.key).hash == ref_hash(self.ref)
                   for _, e in self.generations)


def parse_generation(key: str) -> int:
    return parse_generation_key(key).generation


def parse_generation_key(key: str) -> IndexKey:
    parsed = parse_index_key(key)
    assert parsed is not None, key
    return parsed


@dataclass(frozen=True, slots=True)
class RefBytes:
    ref: str
    entries: int
    bytes: int


@dataclass(frozen=True, slots=True)
class GhaInventory:
    repository: str
    entries: tuple[EntryInfo, ...]
    caches: tuple[GhaCache, ...]
    blobs: tuple[EntryInfo, ...]
    """Blob entries (``buildkit-blob-1-…``), every ref."""
    other: tuple[EntryInfo, ...]
    """Entries that are not BuildKit's (actions/cache and others): counted, never touched."""
    usage_bytes: int | None = None
    """``active_caches_size_in_bytes`` of the usage endpoint (refreshed about every 5 minutes)."""
    limit_bytes: int = DEFAULT_LIMIT_BYTES

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.entries)

    @property
    def blob_bytes(self) -> int:
        return sum(entry.size for entry in self.blobs)

    @property
    def deduplicated_bytes(self) -> int:
        """Bytes if every key were stored once, whatever its refs."""
        sizes: dict[str, int] = {}
        for entry in self.entries:
            sizes[entry.key] = max(sizes.get(entry.key, 0), entry.size)
        return sum(sizes.values())

    @property
    def superseded_bytes(self) -> int:
        return sum(cache.superseded_bytes for cache in self.caches)

    def per_ref(self) -> list[RefBytes]:
        totals: dict[str, list[int]] = {}
        for entry in self.entries:
            count = totals.setdefault(entry.ref, [0, 0])
            count[0] += 1
            count[1] += entry.size
        return [RefBytes(ref, n, size) for ref, (n, size) in sorted(totals.items())]

    def cache(self, name: str) -> GhaCache | None:
        return next((cache for cache in self.caches if cache.name == name), None)


def group(repository: str, entries: Iterable[EntryInfo], *, usage_bytes: int | None = None,
          limit_bytes: int = DEFAULT_LIMIT_BYTES, scope: str | None = None) -> GhaInventory:
    """Sort entries into caches, blob entries and others; ``scope`` keeps one scope's caches."""
    listed = tuple(sorted(entries, key=lambda e: (e.ref, e.key, e.id)))
    generations: dict[tuple[str, str, bool], list[tuple[int, EntryInfo]]] = {}
    blobs: list[EntryInfo] = []
    other: list[EntryInfo] = []
    for entry in listed:
        parsed = parse_index_key(entry.key)
        if parsed is not None:
            if scope is None or parsed.scope == scope:
                generations.setdefault((parsed.scope, entry.ref, parsed.signed), []).append(
                    (parsed.generation, entry))
        elif blob_digest(entry.key) is not None:
            blobs.append(entry)
        else:
            other.append(entry)
    caches = tuple(
        GhaCache(scope_name, ref, signed, tuple(sorted(found, key=lambda g: (g[0], g[1].id))))
        for (scope_name, ref, signed), found in sorted(generations.items())
    )
    return GhaInventory(repository, listed, caches, tuple(blobs), tuple(other), usage_bytes,
                        limit_bytes)


@dataclass(frozen=True, slots=True)
class IndexHealth:
    """What one current index needs from the blob entries."""

    cache: GhaCache
    referenced: tuple[str, ...]
    """Blob digests the index names, in its layer order."""
    evicted: tuple[str, ...]
    """Named but no blob entry holds them in any ref: importing with output fails there."""


@dataclass(frozen=True, slots=True)
class ContentFindings:
    health: tuple[IndexHealth, ...]
    orphaned: tuple[EntryInfo, ...]
    """Blob entries no index generation of any ref names."""
    only_superseded: tuple[EntryInfo, ...]
    """Blob entries only superseded generations name: orphans once those are pruned."""

    @property
    def orphaned_bytes(self) -> int:
        return sum(entry.size for entry in self.orphaned)


def content_findings(inventory: GhaInventory,
                     references: Mapping[int, tuple[str, ...]]) -> ContentFindings:
    """``references``: entry id of an index generation → the blob digests its layers name.

    Current generations missing from ``references`` (unreadable) make no claim about their
    blobs; their caches are left out of ``health`` and keep every blob from being orphaned.
    """
    present = {blob_digest(entry.key) for entry in inventory.blobs}
    health: list[IndexHealth] = []
    needed: set[str] = set()
    unknown = False
    for cache in inventory.caches:
        current = cache.current
        digests = references.get(current.id)
        if digests is None:
            unknown = True
            continue
        needed.update(digests)
        health.append(IndexHealth(cache, digests,
                                  tuple(d for d in dict.fromkeys(digests) if d not in present)))
    superseded_needs: set[str] = set()
    for cache in inventory.caches:
        for entry in cache.superseded:
            superseded_needs.update(references.get(entry.id, ()))
    if unknown:
        return ContentFindings(tuple(health), (), ())
    unneeded = [entry for entry in inventory.blobs if blob_digest(entry.key) not in needed]
    return ContentFindings(
        tuple(health),
        tuple(e for e in unneeded if blob_digest(e.key) not in superseded_needs),
        tuple(e for e in unneeded if blob_digest(e.key) in superseded_needs))


@dataclass(frozen=True, slots=True)
class Ages:
    newest: datetime | None
    oldest: datetime | None


def ages(entries: Iterable[EntryInfo]) -> Ages:
    created = [entry.created_at for entry in entries]
    return Ages(max(created, default=None), min(created, default=None))


__all__ = ["EntryInfo", "GhaCache", "GhaInventory", "content_findings", "group"]

"""What ``ls`` does with the caches it found: filter by glob, sort, and add up.

The totals answer "what does all this cost": the sum of every cache's bytes, the unique bytes
once blobs shared between caches are counted once (per source: a blob in two registries is
stored twice), and what is reclaimable right now (directory blobs no tag reaches).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cachetui.ops.inventory import CacheEntry


class ListSort(StrEnum):
    NAME = "name"
    SIZE = "size"
    AGE = "age"


def matching(entries: Sequence[CacheEntry], patterns: Sequence[str]) -> list[CacheEntry]:
    """Entries whose tag or ``source:tag`` matches any glob (all when no pattern)."""
    if not patterns:
        return list(entries)
    return [entry for entry in entries
            if any(fnmatch.fnmatchcase(entry.tag, p) or fnmatch.fnmatchcase(entry.ref, p)
                   for p in patterns)]


def sorted_entries(entries: Sequence[CacheEntry], key: ListSort) -> list[CacheEntry]:
    """Name: A-Z by source then tag. Size and age: biggest and newest first. Unreadable entries
    always come last (they have neither)."""

    def rank(entry: CacheEntry) -> tuple[object, ...]:
        analysis = entry.analysis
        if analysis is None:
            return (1, entry.source, entry.tag)
        if key is ListSort.SIZE:
            return (0, -analysis.size_bytes, entry.source, entry.tag)
        if key is ListSort.AGE:
            newest = analysis.created_newest
            return (0, -(newest.timestamp() if newest else 0.0), entry.source, entry.tag)
        return (0, entry.source, entry.tag)

    return sorted(entries, key=rank)


@dataclass(frozen=True, slots=True)
class Totals:
    caches: int
    total_bytes: int
    """Every cache's layer bytes added up (shared layers counted in each cache)."""
    unique_bytes: int
    """Layer bytes with each blob counted once per source."""
    reclaimable_bytes: int
    """Directory blobs that no tag reaches (what gc frees now); registries report none."""

    def json(self) -> dict[str, int]:
        return {"caches": self.caches, "total_bytes": self.total_bytes,
                "unique_bytes": self.unique_bytes, "reclaimable_bytes": self.reclaimable_bytes}


def totals(entries: Sequence[CacheEntry], unreferenced: Mapping[str, int | None]) -> Totals:
    from cachetui.ops.space import holdings  # five dataclasses ``ls --json`` needs none of

    held = holdings(entries)
    total = sum(entry.analysis.size_bytes for blobs in held.values() for entry in blobs.entries
                if entry.analysis is not None)
    reclaimable = sum(unreferenced.get(source) or 0 for source in held)
    return Totals(sum(len(blobs.entries) for blobs in held.values()), total,
                  sum(blobs.unique_bytes for blobs in held.values()), reclaimable)

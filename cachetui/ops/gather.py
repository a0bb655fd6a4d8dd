"""Expand source texts into stores through a workspace and scan them (``ls``, ``inspect``).

Failures are collected per source, never raised, so one bad source does not hide the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from cachetui.errors import CachetuiError
from cachetui.locations import Location, Target, Workspace, parse_location
from cachetui.oci.digest import Digest, is_digest
from cachetui.ops.inventory import PARALLEL_STORES, CacheEntry, ScanResult, collect, scan_store
from cachetui.ops.load import DocumentMemo
from cachetui.store.base import Store


@dataclass(slots=True)
class Gathered:
    entries: list[CacheEntry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unreferenced: dict[str, int | None] = field(default_factory=dict)
    stores: dict[str, Store] = field(default_factory=dict)
    """By display location (``CacheEntry.source``)."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(source, message) of every source that failed as a whole (also in ``errors``)."""
    locations: dict[str, Location] = field(default_factory=dict)
    """By display location: where each scanned store is (for ``cache_from``)."""

    def cache_from(self, entry: CacheEntry) -> str | None:
        """The ``--cache-from`` spec of one listed cache."""
        location = self.locations.get(entry.source)
        if location is None or location.kind == "registry-host":
            return None
        if is_digest(entry.tag):
            return location.with_reference(digest=Digest(entry.tag)).cache_from()
        return location.with_reference(tag=entry.tag).cache_from()


async def gather(workspace: Workspace, sources: Sequence[str], *,
                 discover_depth: int = 4, memo: DocumentMemo | None = None) -> Gathered:
    """Scan every source, ``PARALLEL_STORES`` stores at a time (a registry's catalog of small
    repositories would otherwise cost a round trip per repository in a row); the output keeps
    argument order."""
    out = Gathered()
    memo = memo if memo is not None else DocumentMemo()
    targets: list[Target] = []
    for text in sources:
        before = len(out.errors)
        try:
            expansion = await workspace.expand(parse_location(text), discover_depth=discover_depth)
            targets += expansion.targets
            out.errors += expansion.problems
        except CachetuiError as exc:
            out.errors.append(str(exc))
        out.failed.extend((text, message) for message in out.errors[before:])
    limit = asyncio.Semaphore(PARALLEL_STORES)

    async def scan(target: Target) -> ScanResult:
        async with limit:
            return await collect(scan_store(target.store, memo=memo, tags=target.tags))

    results = await asyncio.gather(*(scan(target) for target in targets))
    for target, (entries, errors, stats) in zip(targets, results, strict=True):
        out.stores[target.store.location] = target.store
        out.locations[target.store.location] = target.location
        out.entries.extend(sorted(entries, key=lambda entry: entry.tag))
        out.errors.extend(errors)
        out.failed.extend((target.store.location, message) for message in errors)
        out.unreferenced.update(stats)
    return out

"""Scan stores for caches, streaming one row per tag as soon as it is known.

A UI fills its table from the events as they arrive; the CLI collects them. Tags that share a
manifest cost one config read (digest-keyed memo); reads run with bounded concurrency.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cachetui.buildkit.analysis import CacheAnalysis
from cachetui.buildkit.document import CacheDocument, build_document, config_descriptor
from cachetui.errors import CachetuiError
from cachetui.oci.models import TopObject, parse_top
from cachetui.ops.load import DocumentMemo, disk_for, document_from_top, top_for_tag
from cachetui.store.base import Store, StoreKind

DEFAULT_CONCURRENCY = 16
"""Reads in flight per store (a registry's own limit applies too: ``--concurrency``)."""
PARALLEL_STORES = 4
"""Stores scanned at once (the repositories of a registry, the directories of a folder)."""


@runtime_checkable
class HasUnreferenced(Protocol):
    """Stores that can tell which blobs no tag reaches (local directories)."""

    async def unreferenced_bytes(self) -> int: ...


@runtime_checkable
class HasQuota(Protocol):
    """Stores with a size limit that evicts past it (a GitHub repository's Actions cache)."""

    async def quota(self) -> tuple[int, int]:
        """``(used, limit)`` in bytes."""
        ...


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One tag of one source: its analysis, or the error that kept it from being read."""

    source: str
    kind: StoreKind
    tag: str
    analysis: CacheAnalysis | None
    error: str | None = None
    cached: bool = False
    """From the last listing kept on disk, not yet confirmed by this one (see ScanKnown)."""

    @property
    def digest(self) -> str | None:
        return None if self.analysis is None else self.analysis.document.top.digest

    @property
    def ref(self) -> str:
        return f"{self.source}:{self.tag}"


@dataclass(frozen=True, slots=True)
class ScanStarted:
    source: str
    total: int


@dataclass(frozen=True, slots=True)
class EntryScanned:
    entry: CacheEntry
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class SourceStats:
    """Facts about a whole source, sent after its tags (unreferenced bytes of a directory)."""

    source: str
    unreferenced_bytes: int | None
    quota: tuple[int, int] | None = None
    """``(used, limit)`` bytes of a source that evicts past a limit."""


@dataclass(frozen=True, slots=True)
class ScanFailed:
    source: str
    message: str


@dataclass(frozen=True, slots=True)
class ScanFinished:
    source: str
    entries: int


@dataclass(frozen=True, slots=True)
class ScanKnown:
    """The last known inventory of a source (from the disk cache, no network), sent before the
    fresh listing when asked for: a UI paints it at once and marks it as being refreshed; the
    fresh entries replace these, and ones still ``cached`` at ScanFinished are gone."""

    source: str
    entries: tuple[CacheEntry, ...]


ScanEvent = ScanStarted | EntryScanned | SourceStats | ScanFailed | ScanFinished | ScanKnown

KNOWN_BATCH = 64
"""Known entries per ScanKnown event (a UI adds each batch in one short step)."""


def known_entries(store: Store, memo: DocumentMemo) -> list[CacheEntry]:
    """The entries of the last full listing of ``store`` whose manifest and config are on disk,
    analysed from those bytes (CPU only: call it in a thread)."""
    disk = disk_for(store, memo.disk)
    if disk is None:
        return []
    out = []
    for tag, digest in sorted(disk.known_tags(store.location).items()):
        document = memo.get(digest)
        if document is None:
            raw = disk.get(digest)
            if raw is None:
                continue
            try:
                top = parse_top(raw, where=f"{store.location}:{tag}")
                descriptor = config_descriptor(top)
                config = disk.get(descriptor.digest) if descriptor is not None else None
                if descriptor is not None and config is None:
                    continue
                document = build_document(top, config, where=f"{store.location}:{tag}")
            except CachetuiError:
                continue
            memo.put(document)
        out.append(CacheEntry(store.location, store.kind, tag, memo.analysis(document),
                              cached=True))
    return out


async def scan_store(
    store: Store,
    *,
    memo: DocumentMemo | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    tags: list[str] | None = None,
    known_first: bool = False,
) -> AsyncIterator[ScanEvent]:
    """Events for every tag of ``store`` (or just ``tags``), in completion order; with
    ``known_first``, the last known inventory first (:class:`ScanKnown`).

    Errors never escape: a source that cannot be listed yields :class:`ScanFailed`, and a tag that
    cannot be read yields an entry with ``error`` set.
    """
    memo = memo if memo is not None else DocumentMemo()
    source = store.location
    if known_first and tags is None:
        last = await asyncio.to_thread(known_entries, store, memo)
        for start in range(0, len(last), KNOWN_BATCH):
            yield ScanKnown(source, tuple(last[start:start + KNOWN_BATCH]))
    try:
        names = tags if tags is not None else await store.list_tags()
    except CachetuiError as exc:
        yield ScanFailed(source, str(exc))
        return
    yield ScanStarted(source, len(names))
    limit = asyncio.Semaphore(max(1, concurrency))
    disk = disk_for(store, memo.disk)
    known = disk.known_tags(source) if disk is not None else {}
    seen: dict[str, str] = {}

    async def one(tag: str) -> CacheEntry:
        try:
            document = await _load_once(store, tag, memo, limit, known)
            seen[tag] = document.top.digest
            # Analysing a large cache is CPU work (tens of ms for 20,000 records): it runs in a
            # thread so the caller's event loop (the TUI) stays responsive.
            analysis = await memo.analysis_off_loop(document)
            return CacheEntry(source, store.kind, tag, analysis)
        except CachetuiError as exc:
            return CacheEntry(source, store.kind, tag, None, str(exc))

    tasks = [asyncio.create_task(one(tag)) for tag in names]
    try:
        for done, finished in enumerate(asyncio.as_completed(tasks), start=1):
            yield EntryScanned(await finished, done, len(names))
    finally:
        for task in tasks:
            task.cancel()
    if disk is not None and tags is None:
        disk.remember_tags(source, seen)
    if isinstance(store, HasUnreferenced):
        try:
            yield SourceStats(source, await store.unreferenced_bytes())
        except CachetuiError as exc:
            yield ScanFailed(source, str(exc))
    if isinstance(store, HasQuota):
        try:
            yield SourceStats(source, None, quota=await store.quota())
        except CachetuiError as exc:
            yield ScanFailed(source, str(exc))
    yield ScanFinished(source, len(names))


async def _load_once(store: Store, tag: str, memo: DocumentMemo,
                     limit: asyncio.Semaphore, known: dict[str, str]) -> CacheDocument:
    """One manifest read per tag; the config read only once per manifest digest, even when
    several tags (of this store or another scanned with the same memo) meet it at once.

    The tag that first meets a digest reads its config in its own slot of ``limit``, at once
    (queued behind every waiting tag, the config reads all came last); a tag that waits for
    another tag's read holds no slot. A read that failed in another store is done again here:
    that store's blob may be missing where this one's is not.
    """
    async with limit:
        top = await top_for_tag(store, tag, memo.disk, known)
        cached = memo.get(top.digest)
        if cached is not None:
            return cached
        found = memo.loading.get(top.digest)
        if found is None:
            return await _read(store, top, tag, memo)
    owner, task = found
    try:
        document = await asyncio.shield(task)
    except CachetuiError:
        if owner == store.location:
            raise
        async with limit:
            return await _read(store, top, tag, memo)
    memo.put(document)
    return document


async def _read(store: Store, top: TopObject, tag: str, memo: DocumentMemo) -> CacheDocument:
    task = asyncio.create_task(document_from_top(store, top, where=f"{store.location}:{tag}",
                                                 disk=memo.disk))
    memo.loading[top.digest] = (store.location, task)
    try:
        document = await asyncio.shield(task)
    finally:
        if memo.loading.get(top.digest, (None, None))[1] is task:
            del memo.loading[top.digest]
    memo.put(document)
    return document


ScanResult = tuple[list[CacheEntry], list[str], dict[str, int | None]]
"""Entries, errors, and unreferenced bytes per source (see :func:`collect`)."""


async def collect(events: AsyncIterator[ScanEvent]) -> ScanResult:
    """Drain a scan: entries in tag order per source, errors, unreferenced bytes per source."""
    entries: list[CacheEntry] = []
    errors: list[str] = []
    stats: dict[str, int | None] = {}
    async for event in events:
        if isinstance(event, EntryScanned):
            entries.append(event.entry)
        elif isinstance(event, ScanFailed):
            errors.append(event.message)
        elif isinstance(event, SourceStats):
            stats[event.source] = event.unreferenced_bytes
    return entries, errors, stats

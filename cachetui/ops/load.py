"""Read one tag from any store into a classified, analysed cache."""

from __future__ import annotations

import asyncio

from cachetui.buildkit.analysis import CacheAnalysis, analyse
from cachetui.buildkit.document import CacheDocument, build_document, config_descriptor
from cachetui.oci.models import TopObject, parse_top
from cachetui.store.base import ReadsLocalFiles, Store
from cachetui.store.diskcache import DiskCache, default_cache

_UNSET: DiskCache | None = DiskCache.__new__(DiskCache)
"""Marks "no disk cache given" (None means none at all)."""

THREAD_PARSE_BYTES = 256 * 1024
"""Configs larger than this are parsed in a thread."""


THREAD_THRESHOLD = 2000
"""Records + layers above which analysing moves to a thread (a few ms of CPU or more)."""


class DocumentMemo:
    """Parsed documents by manifest digest. Content-addressed, so it can never be stale.

    ``disk`` is the on-disk cache of manifests and configs behind it (the user's, unless turned
    off, by default); local directories do not use it (reading them is as fast)."""

    def __init__(self, disk: DiskCache | None = _UNSET) -> None:
        self.disk = default_cache() if disk is _UNSET else disk
        self._documents: dict[str, CacheDocument] = {}
        self._analyses: dict[str, CacheAnalysis] = {}
        self.loading: dict[str, tuple[str, asyncio.Task[CacheDocument]]] = {}
        """Reads in flight by manifest digest, with the location of the store reading: scans
        of several stores sharing this memo read each config once."""

    def get(self, digest: str) -> CacheDocument | None:
        return self._documents.get(digest)

    def put(self, document: CacheDocument) -> None:
        self._documents[document.top.digest] = document

    def analysis(self, document: CacheDocument) -> CacheAnalysis:
        cached = self._analyses.get(document.top.digest)
        if cached is None:
            cached = analyse(document)
            self._analyses[document.top.digest] = cached
        return cached

    async def analysis_off_loop(self, document: CacheDocument) -> CacheAnalysis:
        """The analysis, computed in a thread when it is new and large enough to stall a UI.

        Tags sharing a manifest hit the memo and cost no thread hand-off.
        """
        cached = self._analyses.get(document.top.digest)
        if cached is not None:
            return cached
        config = document.config
        if config is None or len(config.records) + len(config.layers) < THREAD_THRESHOLD:
            return self.analysis(document)
        return await asyncio.to_thread(self.analysis, document)

    def __len__(self) -> int:
        return len(self._documents)


def disk_for(store: Store, disk: DiskCache | None) -> DiskCache | None:
    """The disk cache when it helps: remote stores only."""
    if disk is None:
        return None
    kind = type(store)
    local = _READS_LOCAL.get(kind)
    if local is None:  # a protocol check walks the protocol's members: once per store class
        local = _READS_LOCAL[kind] = isinstance(store, ReadsLocalFiles)
    return None if local else disk


_READS_LOCAL: dict[type, bool] = {}


async def document_from_top(store: Store, top: TopObject, *, where: str,
                            disk: DiskCache | None = None) -> CacheDocument:
    """Fetch the config blob a top object needs (if any, from ``disk`` when cached) and
    classify it."""
    descriptor = config_descriptor(top)
    raw = None
    disk = disk_for(store, disk)
    if descriptor is not None:
        raw = disk.get(descriptor.digest) if disk is not None else None
        if raw is None:
            raw = await store.read_blob(descriptor)  # every store verifies the digest
            if disk is not None:
                disk.put(descriptor.digest, raw, verified=True)
    if descriptor is not None:
        where = f"{where} config {descriptor.digest[7:19]}"
    if raw is not None and len(raw) > THREAD_PARSE_BYTES:
        # Parsing a config of thousands of records takes tens of ms: off the event loop.
        return await asyncio.to_thread(build_document, top, raw, where=where)
    return build_document(top, raw, where=where)


async def top_for_tag(store: Store, tag: str, disk: DiskCache | None,
                      known: dict[str, str]) -> TopObject:
    """The manifest behind ``tag``: from the disk cache after one HEAD when the tag was seen
    before (``known``: tag → digest at the last listing) and its manifest is cached; otherwise
    one GET, whose bytes are then cached."""
    disk = disk_for(store, disk)
    if disk is None:
        return await store.get_manifest(tag)
    last = known.get(tag)
    if last is not None and disk.has(last):
        descriptor = await store.resolve(tag)
        raw = disk.get(descriptor.digest)
        if raw is not None:
            return parse_top(raw, media_type=descriptor.media_type,
                             where=f"{store.location}:{tag}")
        top = await store.get_manifest(descriptor.digest)
    else:
        top = await store.get_manifest(tag)
    disk.put(top.digest, top.raw, verified=True)  # top.digest is computed from top.raw
    return top


async def load_document(
    store: Store, reference: str, *, memo: DocumentMemo | None = None
) -> CacheDocument:
    """The document behind a tag or digest: one manifest read, a config read only if new."""
    top = await store.get_manifest(reference)
    if memo is not None:
        cached = memo.get(top.digest)
        if cached is not None:
            return cached
    document = await document_from_top(store, top, where=f"{store.location}:{reference}",
                                       disk=memo.disk if memo is not None else None)
    if memo is not None:
        memo.put(document)
    return document


async def load_cache(
    store: Store, reference: str, *, memo: DocumentMemo | None = None
) -> CacheAnalysis:
    document = await load_document(store, reference, memo=memo)
    return memo.analysis(document) if memo is not None else analyse(document)

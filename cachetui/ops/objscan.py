"""What object storage needs beyond the cache analysis: orphaned blobs and dangling references.

Per prefix (moby/buildkit#3686, #3223): an **orphaned blob** is a blob object that no manifest
under the prefix names (bytes and age from LastModified); a **dangling reference** is a layer a
manifest names whose blob object is gone (a lifecycle rule deleted it; the next build that needs
the layer fails with a 404), reported per manifest with the records and layers that will miss.

Reads only. The scan lists blobs *before* manifests, so a blob a build uploads and then names in
a manifest between the two listings is seen as referenced, never as an orphan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cachetui.buildkit.annotated import parse_annotated
from cachetui.buildkit.cacheconfig import CacheConfig
from cachetui.buildkit.times import format_time
from cachetui.errors import CachetuiError
from cachetui.store.objects import KeyLayout, ObjectInfo


class ObjectCacheStore(Protocol):
    """The capability this needs: blob and manifest listings, raw manifest reads."""

    layout: KeyLayout

    @property
    def location(self) -> str: ...

    async def blob_objects(self) -> dict[str, ObjectInfo]: ...

    async def manifest_objects(self) -> list[ObjectInfo]: ...

    async def read_annotated(self, name: str) -> bytes: ...


def has_object_listing(store: object) -> bool:
    """True for stores that can be scanned for orphans and dangling references."""
    return all(hasattr(store, name) for name in ("blob_objects", "manifest_objects",
                                                 "read_annotated", "layout"))


@dataclass(frozen=True, slots=True)
class MissingBlob:
    """A blob a manifest names that is not stored."""

    digest: str
    key: str
    layers: tuple[int, ...]
    """Indices into the manifest's ``layers`` that name it."""
    records: tuple[int, ...]
    """Records whose results stand on it (their chain includes one of those layers)."""


@dataclass(frozen=True, slots=True)
class ManifestFacts:
    name: str
    key: str
    size: int
    last_modified: datetime
    blobs: frozenset[str]
    missing: tuple[MissingBlob, ...] = ()
    error: str | None = None
    """Why the manifest could not be read or parsed (it then names no blobs)."""


@dataclass(frozen=True, slots=True)
class Orphan:
    digest: str
    key: str
    size: int
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class PrefixReport:
    """Everything under one prefix: manifests, orphans, dangling references, shared blobs."""

    location: str
    manifests: tuple[ManifestFacts, ...]
    blobs: dict[str, ObjectInfo] = field(repr=False)
    orphans: tuple[Orphan, ...]
    shared: tuple[str, ...]
    """Blob keys named by two or more manifests."""

    @property
    def orphaned_bytes(self) -> int:
        return sum(o.size for o in self.orphans)

    @property
    def dangling(self) -> dict[str, list[str]]:
        """Missing blob key -> names of the manifests that reference it."""
        out: dict[str, list[str]] = {}
        for manifest in self.manifests:
            for missing in manifest.missing:
                out.setdefault(missing.key, []).append(manifest.name)
        return dict(sorted(out.items()))

    @property
    def referenced(self) -> frozenset[str]:
        return frozenset().union(*(m.blobs for m in self.manifests)) if self.manifests \
            else frozenset()

    def to_json(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "manifests": [
                {"name": m.name, "key": m.key, "size": m.size,
                 "lastModified": format_time(m.last_modified),
                 "danglingReferences": [
                     {"key": x.key, "blob": x.digest, "layers": list(x.layers),
                      "records": list(x.records)} for x in m.missing],
                 **({"error": m.error} if m.error else {})}
                for m in self.manifests
            ],
            "blobCount": len(self.blobs),
            "blobBytes": sum(b.size for b in self.blobs.values()),
            "orphanedBlobs": [{"key": o.key, "size": o.size,
                               "lastModified": format_time(o.last_modified)}
                              for o in self.orphans],
            "orphanedBytes": self.orphaned_bytes,
            "danglingReferences": [{"key": key, "referencedBy": names}
                                   for key, names in self.dangling.items()],
            "sharedBlobs": list(self.shared),
        }


def _records_on(config: CacheConfig, layer_indices: set[int]) -> tuple[int, ...]:
    """Records with a result whose chain passes through one of ``layer_indices``."""
    hits: list[int] = []
    memo: dict[int, bool] = {}

    def touches(index: int) -> bool:
        path: list[int] = []
        node = index
        result = False
        while node != -1:
            if node in memo:
                result = memo[node]
                break
            if node in layer_indices:
                result = True
                break
            path.append(node)
            node = config.layers[node].parent
        for visited in path:
            memo[visited] = result
        return result

    for position, record in enumerate(config.records):
        starts = [r.layer for r in record.layers] + [i for c in record.chains for i in c.layers]
        if any(touches(start) for start in starts):
            hits.append(position)
    return tuple(hits)


def missing_blobs(config: CacheConfig, present: Container[str],
                  key: Callable[[str], str]) -> tuple[MissingBlob, ...]:
    """Pure: the blobs ``config`` names that are not in ``present``, each with the layers that
    name it and the records that will miss (``key``: where the blob would be stored)."""
    missing_layers: dict[str, list[int]] = {}
    for index, layer in enumerate(config.layers):
        if layer.blob not in present:
            missing_layers.setdefault(layer.blob, []).append(index)
    return tuple(
        MissingBlob(digest, key(digest), tuple(indices), _records_on(config, set(indices)))
        for digest, indices in sorted(missing_layers.items()))


def manifest_facts(info: ObjectInfo, name: str, raw: bytes, layout: KeyLayout,
                   stored: dict[str, ObjectInfo]) -> ManifestFacts:
    """Pure: what one manifest names and which of those blobs are not in ``stored``."""
    config = parse_annotated(raw, where=name)
    blobs = frozenset(layer.blob for layer in config.layers)
    missing = missing_blobs(config, stored, layout.blob_key)
    return ManifestFacts(name, info.key, info.size, info.last_modified, blobs, missing)


async def scan_prefix(store: ObjectCacheStore) -> PrefixReport:
    """List blobs, then manifests, read every manifest, and compute the report."""
    blobs = await store.blob_objects()
    listed = await store.manifest_objects()
    directory = store.layout.manifests_dir
    semaphore = asyncio.Semaphore(8)

    async def read(info: ObjectInfo) -> ManifestFacts:
        name = info.key[len(directory):]
        async with semaphore:
            try:
                raw = await store.read_annotated(name)
                return manifest_facts(info, name, raw, store.layout, blobs)
            except CachetuiError as exc:
                return ManifestFacts(name, info.key, info.size, info.last_modified, frozenset(),
                                     error=str(exc))

    manifests = tuple(sorted(await asyncio.gather(*(read(i) for i in listed)),
                             key=lambda m: m.name))
    counts: dict[str, int] = {}
    for manifest in manifests:
        for digest in manifest.blobs:
            counts[digest] = counts.get(digest, 0) + 1
    referenced = set(counts)
    orphans = tuple(Orphan(d, info.key, info.size, info.last_modified)
                    for d, info in sorted(blobs.items(), key=lambda kv: kv[1].key)
                    if d not in referenced)
    shared = tuple(sorted(store.layout.blob_key(d) for d, n in counts.items()
                          if n > 1 and d in blobs))
    return PrefixReport(store.location, manifests, blobs, orphans, shared)

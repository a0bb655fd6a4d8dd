"""What a cache means: its summary and the min-versus-max analysis.

The analysis (DESIGN.md, reference section 4): final records are records no record links to that
have a result; the min set is the union of their result chains; min bytes are the unique blob bytes
of that set; the max-over-min delta is all unique layer bytes minus min bytes. It is an estimate for
a clean builder: a warm builder exports more even with ``mode=min``, and the mode flag is recorded
nowhere, so this reports what the cache holds and never claims which flag was used.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec

from cachetui.buildkit.cacheconfig import CacheConfig, CacheRecord
from cachetui.buildkit.chains import ChainIndex, linked_records, top_entry_of
from cachetui.buildkit.document import CacheDocument, CacheFormat
from cachetui.buildkit.times import parse_time
from cachetui.oci import mediatypes as mt
from cachetui.oci.digest import Digest
from cachetui.oci.models import Descriptor


class LayerRole(StrEnum):
    FINAL = "final"
    """In the final image's chain: a ``mode=min`` export from a clean builder keeps it."""
    INTERMEDIATE = "intermediate"
    """Only in intermediate stages' results: what ``mode=max`` costs on top of ``min``."""


class LayerInfo(msgspec.Struct, frozen=True, gc=False):
    """One unique layer blob of a cache (a msgspec struct: built in C, several per listed cache)."""

    digest: Digest
    media_type: str
    size: int
    compression: str
    diff_id: str | None
    created_at: datetime | None
    role: LayerRole
    records: tuple[int, ...]
    """Indices of the records whose result has this blob on top (the steps that made it)."""


class MinMax(msgspec.Struct, frozen=True, gc=False):
    final_records: tuple[int, ...]
    min_digests: frozenset[str]
    min_bytes: int
    max_bytes: int
    kept_records: tuple[int, ...]
    """Records that would keep a result in a clean-builder ``mode=min`` export."""
    missing_blobs: tuple[str, ...]
    """Blobs named in result chains but absent from the manifest (BuildKit ignores such results)."""

    @property
    def delta_bytes(self) -> int:
        return max(self.max_bytes - self.min_bytes, 0)


class CacheAnalysis(msgspec.Struct, frozen=True):
    """Everything the list and the cache screen show, computed once from a document."""

    document: CacheDocument
    layers: tuple[LayerInfo, ...]
    minmax: MinMax
    record_count: int
    records_with_results: int
    compression: tuple[str, ...]
    created_oldest: datetime | None
    created_newest: datetime | None
    chains: ChainIndex

    @property
    def layer_count(self) -> int:
        return len(self.layers)

    @property
    def size_bytes(self) -> int:
        return self.minmax.max_bytes

    @property
    def intermediate_layers(self) -> tuple[LayerInfo, ...]:
        return tuple(layer for layer in self.layers if layer.role is LayerRole.INTERMEDIATE)


def _compression_name(media_type: str) -> str:
    try:
        return str(mt.layer_compression(media_type))
    except KeyError:
        return "unknown"


def analyse(document: CacheDocument) -> CacheAnalysis:
    """Summary plus min-versus-max analysis of a parsed cache (or a plain image)."""
    config = document.config
    chains = ChainIndex(config if config is not None else CacheConfig())
    sizes: dict[str, int] = {}
    first_descriptor: dict[str, Descriptor] = {}
    for descriptor in document.layers:
        if descriptor.digest not in first_descriptor:
            first_descriptor[descriptor.digest] = descriptor
            sizes[descriptor.digest] = descriptor.size
    max_bytes = sum(sizes.values())

    producers: dict[str, list[int]] = {}
    final_records: list[int] = []
    min_digests: set[str] = set()
    kept: list[int] = []
    with_results: list[tuple[int, CacheRecord]] = []
    if config is not None:
        linked = linked_records(config)
        # Most records of a cache have no result (cache keys only): walk the others, in order.
        with_results = [(index, record) for index, record in enumerate(config.records)
                        if record.layers or record.chains]
        blob_chains = []
        for index, record in with_results:
            for entry in top_entry_of(record):
                producers.setdefault(config.layers[entry].blob, []).append(index)
            record_chains = chains.record_blob_chains(record)
            blob_chains.append(record_chains)
            if index not in linked:
                final_records.append(index)
                for blobs in record_chains:
                    min_digests.update(blobs)
        for (index, _), record_chains in zip(with_results, blob_chains, strict=True):
            if all(min_digests.issuperset(blobs) for blobs in record_chains):
                kept.append(index)
    elif document.format is CacheFormat.IMAGE:
        min_digests = set(sizes)
    missing = tuple(sorted(d for d in min_digests if d not in sizes))
    min_bytes = sum(sizes[d] for d in min_digests if d in sizes)

    layer_times: list[datetime] = []
    infos: list[LayerInfo] = []
    for digest, descriptor in first_descriptor.items():
        created = parse_time(descriptor.annotation(mt.ANNOTATION_CREATED))
        if created is not None:
            layer_times.append(created)
        infos.append(
            LayerInfo(
                digest=Digest(digest),
                media_type=descriptor.media_type,
                size=descriptor.size,
                compression=_compression_name(descriptor.media_type),
                diff_id=document.diff_ids.get(digest),
                created_at=created,
                role=LayerRole.FINAL if digest in min_digests else LayerRole.INTERMEDIATE,
                records=tuple(producers.get(digest, ())),
            )
        )
    # The records' times only stand in for the layers' (most exporters annotate layers).
    times = layer_times or [parsed for _, record in with_results for result in record.layers
                            if (parsed := parse_time(result.created_at)) is not None]
    minmax = MinMax(
        final_records=tuple(final_records),
        min_digests=frozenset(d for d in min_digests if d in sizes),
        min_bytes=min_bytes,
        max_bytes=max_bytes,
        kept_records=tuple(kept),
        missing_blobs=missing,
    )
    return CacheAnalysis(
        document=document,
        layers=tuple(infos),
        minmax=minmax,
        record_count=len(config.records) if config is not None else 0,
        records_with_results=len(with_results),
        compression=tuple(sorted({info.compression for info in infos})),
        created_oldest=min(times) if times else None,
        created_newest=max(times) if times else None,
        chains=chains,
    )

"""Compare two caches: shared blobs and bytes, and whether they are the same cache re-encoded.

Two exports of one builder state in different encodings have different blob digests but the same
records and the same layer contents. Mapping every layer entry to its diffID chain (the diffIDs
from the base up) makes them comparable; that is what "same cache, different encoding" means.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from cachetui.buildkit.analysis import CacheAnalysis
from cachetui.buildkit.cacheconfig import CacheConfig
from cachetui.buildkit.chains import ChainIndex

DiffIdChain = tuple[str, ...]
NormalRecord = tuple[str, tuple[tuple[tuple[str, str], ...], ...], tuple[tuple[DiffIdChain, str], ...]]


@dataclass(frozen=True, slots=True)
class CacheDiff:
    shared_layers: tuple[str, ...]
    shared_bytes: int
    only_left: tuple[str, ...]
    only_right: tuple[str, ...]
    only_left_bytes: int
    only_right_bytes: int
    records_left: int
    records_right: int
    records_in_common: int
    """Records present on both sides, by cache-key digest."""
    same_records: bool
    """Records equal after mapping layer indices to diffID chains (inputs, results, createdAt)."""
    same_layer_chains: bool
    """The sets of diffID chains of all layer entries are equal."""

    @property
    def same_cache(self) -> bool:
        """The same cache, perhaps in a different encoding or wrapper."""
        return self.same_records and self.same_layer_chains


def diffid_chains(analysis: CacheAnalysis) -> list[DiffIdChain]:
    """Each layer entry of the config as its diffID chain (blob digest where no diffID is known)."""
    config = analysis.document.config or CacheConfig()
    diff_ids = analysis.document.diff_ids
    chains = ChainIndex(config)
    out = []
    for index in range(len(config.layers)):
        blobs = chains.blobs(chains.entry_chain(index))
        out.append(tuple(diff_ids.get(blob, blob) for blob in blobs))
    return out


def normalised_records(analysis: CacheAnalysis) -> Counter[NormalRecord]:
    """Records with links as record digests and results as diffID chains: encoding-free."""
    config = analysis.document.config or CacheConfig()
    entry_chains = diffid_chains(analysis)
    chains = ChainIndex(config)
    digests = [record.digest for record in config.records]
    out: Counter[NormalRecord] = Counter()
    for record in config.records:
        inputs = tuple(
            tuple(sorted((str(alt.selector or ""), digests[alt.link]) for alt in alternatives))
            for alternatives in record.inputs
        )
        results = []
        for result in record.layers:
            results.append((entry_chains[result.layer], result.created_at))
        for chained in record.chains:
            blobs = chains.blobs(tuple(chained.layers))
            diff_ids = analysis.document.diff_ids
            results.append((tuple(diff_ids.get(b, b) for b in blobs), chained.created_at))
        out[(record.digest, inputs, tuple(sorted(results)))] += 1
    return out


def diff_caches(left: CacheAnalysis, right: CacheAnalysis) -> CacheDiff:
    left_sizes = {layer.digest: layer.size for layer in left.layers}
    right_sizes = {layer.digest: layer.size for layer in right.layers}
    shared = sorted(set(left_sizes) & set(right_sizes))
    only_left = sorted(set(left_sizes) - set(right_sizes))
    only_right = sorted(set(right_sizes) - set(left_sizes))
    left_records = {r.digest for r in (left.document.config or CacheConfig()).records}
    right_records = {r.digest for r in (right.document.config or CacheConfig()).records}
    return CacheDiff(
        shared_layers=tuple(shared),
        shared_bytes=sum(left_sizes[d] for d in shared),
        only_left=tuple(only_left),
        only_right=tuple(only_right),
        only_left_bytes=sum(left_sizes[d] for d in only_left),
        only_right_bytes=sum(right_sizes[d] for d in only_right),
        records_left=left.record_count,
        records_right=right.record_count,
        records_in_common=len(left_records & right_records),
        same_records=normalised_records(left) == normalised_records(right),
        same_layer_chains=set(diffid_chains(left)) == set(diffid_chains(right)),
    )


@dataclass(frozen=True, slots=True)
class LayerPair:
    """One layer content (diffID) as each side stores it: same digest, re-encoded, or one-sided."""

    diff_id: str | None
    left: str | None
    right: str | None
    left_size: int
    right_size: int

    @property
    def status(self) -> str:
        if self.left is None:
            return "only right"
        if self.right is None:
            return "only left"
        return "same blob" if self.left == self.right else "same content, re-encoded"


def pair_layers(left: CacheAnalysis, right: CacheAnalysis) -> list[LayerPair]:
    """Layers paired by digest first, then by diffID (the uncompressed content): a gzip and a
    zstd blob of one layer are the same content, which a digest-only diff calls different."""
    right_by_digest = {layer.digest: layer for layer in right.layers}
    right_by_diff = {layer.diff_id: layer for layer in right.layers if layer.diff_id}
    used: set[str] = set()
    pairs: list[LayerPair] = []
    for layer in left.layers:
        match = right_by_digest.get(layer.digest)
        if match is None and layer.diff_id:
            match = right_by_diff.get(layer.diff_id)
        if match is not None and match.digest in used:
            match = None
        if match is not None:
            used.add(match.digest)
        pairs.append(LayerPair(layer.diff_id, layer.digest, match.digest if match else None,
                               layer.size, match.size if match else 0))
    for layer in right.layers:
        if layer.digest not in used:
            pairs.append(LayerPair(layer.diff_id, None, layer.digest, 0, layer.size))
    return pairs

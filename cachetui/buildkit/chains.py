"""Result chains: which blobs, bottom to top, a record's result stands for.

A ``layers`` result is the chain from that entry down its ``parent`` links to ``-1``; a ``chains``
result is an explicit list of entries. Chains are memoised per entry: results share long prefixes.
"""

from __future__ import annotations

from collections.abc import Iterator

from cachetui.buildkit.cacheconfig import CacheConfig, CacheRecord


class ChainIndex:
    """Memoised layer-entry chains of one (already validated) cache config."""

    def __init__(self, config: CacheConfig) -> None:
        self._config = config
        self._entry_chain: dict[int, tuple[int, ...]] = {}

    def entry_chain(self, index: int) -> tuple[int, ...]:
        """Entries from the base up to ``index``. The config is validated, so this ends.

        Only requested chains are memoised (not every prefix), so one very deep chain costs
        linear, not quadratic, time and memory.
        """
        cached = self._entry_chain.get(index)
        if cached is not None:
            return cached
        path: list[int] = []
        node = index
        layers = self._config.layers
        while node != -1 and node not in self._entry_chain:
            path.append(node)
            node = layers[node].parent
        path.reverse()
        chain = (*self._entry_chain[node], *path) if node != -1 else tuple(path)
        self._entry_chain[index] = chain
        return chain

    def record_results(self, record: CacheRecord) -> Iterator[tuple[tuple[int, ...], str]]:
        """Each result of a record as (entries bottom to top, createdAt)."""
        for result in record.layers:
            yield self.entry_chain(result.layer), result.created_at
        for chained in record.chains:
            yield tuple(chained.layers), chained.created_at

    def blobs(self, entries: tuple[int, ...]) -> tuple[str, ...]:
        layers = self._config.layers
        return tuple([layers[i].blob for i in entries])

    def record_blob_chains(self, record: CacheRecord) -> list[tuple[str, ...]]:
        """The blobs of each result (what :meth:`record_results` gives, as blob digests)."""
        blobs = self.blobs
        out = [blobs(self.entry_chain(result.layer)) for result in record.layers]
        out.extend(blobs(tuple(chained.layers)) for chained in record.chains)
        return out


def linked_records(config: CacheConfig) -> set[int]:
    """Indices of records some other record lists as an input."""
    return {alternative.link for record in config.records for alternatives in record.inputs
            for alternative in alternatives}


def top_entry_of(record: CacheRecord) -> list[int]:
    """The top entry of each result: the layer that record itself produced."""
    tops = [result.layer for result in record.layers]
    tops.extend(chained.layers[-1] for chained in record.chains if chained.layers)
    return tops

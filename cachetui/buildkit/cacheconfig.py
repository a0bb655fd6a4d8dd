"""BuildKit's cache config v0 (``application/vnd.buildkit.cacheconfig.v0``): decode and validate.

Format facts (``reference/buildkit-cache-format.md`` section 2): a missing ``parent`` means 0 (Go
``omitempty``), ``-1`` means no parent; parents may point "forward" (layers are sorted by digest, not
topologically); indices must be in range; parent loops and record loops are errors, as in BuildKit's
own importer.
"""

from __future__ import annotations

from typing import Final

import msgspec

from cachetui.errors import FormatError, TooLarge
from cachetui.oci.models import encode_json

MAX_CONFIG_BYTES: Final = 16 * 1024 * 1024


class LayerAnnotations(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel", gc=False):
    """Only the s3/gha/azblob exporters write these; kept so a round trip loses nothing."""

    media_type: str | None = None
    diff_id: str | None = msgspec.field(default=None, name="diffID")
    size: int | None = None
    created_at: str | None = None


class CacheLayer(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """A chain node: a stored blob on top of ``parent`` (an index into ``layers``, -1 = base)."""

    blob: str = ""
    parent: int = 0
    annotations: LayerAnnotations | None = None


class CacheResult(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """A record's result: the chain ending at ``layer``."""

    layer: int
    created_at: str = ""


class ChainedResult(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """A result given as an explicit list of layer indices (inline cache, non-prefix chains)."""

    layers: tuple[int, ...]
    created_at: str = ""


class CacheInput(msgspec.Struct, frozen=True, gc=False):
    """One alternative for an input: a link to another record, with an optional selector.

    Go writes ``selector`` only when set but ``link`` always (0 included); UNSET mirrors that.
    """

    selector: str | msgspec.UnsetType = msgspec.UNSET
    link: int = 0


class CacheRecord(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """A cache key. ``inputs[i]`` lists the alternatives for the operation's input ``i``."""

    layers: tuple[CacheResult, ...] = ()
    chains: tuple[ChainedResult, ...] = ()
    digest: str = ""
    inputs: tuple[tuple[CacheInput, ...], ...] = ()

    @property
    def has_results(self) -> bool:
        return bool(self.layers or self.chains)


class CacheConfig(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    layers: list[CacheLayer] = msgspec.field(default_factory=list)
    records: list[CacheRecord] = msgspec.field(default_factory=list)


_records_decoder = msgspec.json.Decoder(list[CacheRecord])
_config_decoder = msgspec.json.Decoder(CacheConfig)


def parse_cache_config(raw: bytes, *, where: str = "cache config") -> CacheConfig:
    """Decode and validate a cache config. Raises :class:`FormatError` on any problem."""
    if len(raw) > MAX_CONFIG_BYTES:
        raise TooLarge(f"{len(raw)} bytes, over the {MAX_CONFIG_BYTES} byte limit", where=where)
    try:
        config = _config_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise FormatError(f"malformed cache config: {exc}", where=where) from None
    validate(config, where=where)
    return config


def parse_inline_records(raw: bytes, *, where: str) -> list[CacheRecord]:
    """Decode the JSON array of records that an inline cache carries."""
    try:
        return _records_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise FormatError(f"malformed inline cache records: {exc}", where=where) from None


def validate(config: CacheConfig, *, where: str = "cache config") -> None:
    """Range-check every index and reject parent loops and record loops.

    A listing validates hundreds of configs: :func:`_is_valid` answers in a few flat passes, and
    only a config it refuses is walked again, in the original order, to name its first problem.
    """
    if not _is_valid(config):
        _raise_first_problem(config, where)


def _is_valid(config: CacheConfig) -> bool:
    """Whether :func:`_raise_first_problem` would find nothing (it must never say yes wrongly)."""
    layers = config.layers
    n_layers = len(layers)
    for layer in layers:
        if not layer.blob or not -1 <= layer.parent < n_layers:
            return False
    if _parent_loop_at([layer.parent for layer in layers]) is not None:
        return False
    records = config.records
    results = [result.layer for record in records for result in record.layers]
    if results and (min(results) < 0 or max(results) >= n_layers):
        return False
    indices = [index for record in records for chain in record.chains for index in chain.layers]
    if indices and (min(indices) < 0 or max(indices) >= n_layers):
        return False
    inputs = [alternatives for record in records for alternatives in record.inputs]
    if not all(inputs):
        return False
    links = [alternative.link for alternatives in inputs for alternative in alternatives]
    if links and (min(links) < 0 or max(links) >= len(records)):
        return False
    return not links or _links_are_acyclic(records, links)


def _parent_loop_at(parents: list[int]) -> int | None:
    """The first layer found on a parent loop, or ``None`` (indices already in range)."""
    # Each node is visited once: state 1 = on the current walk, 2 = known to reach -1.
    state = [0] * len(parents)
    for start in range(len(parents)):
        path = []
        node = start
        while node != -1 and state[node] == 0:
            state[node] = 1
            path.append(node)
            node = parents[node]
        if node != -1 and state[node] == 1:
            return node
        for visited in path:
            state[visited] = 2
    return None


def _links_are_acyclic(records: list[CacheRecord], links: list[int]) -> bool:
    """Kahn's algorithm over the record links (indices already in range): no recursion, one
    visit per record and per link, no per-record allocation. ``ready`` grows while it is walked:
    a record joins it once, when the last record linking to it has been walked."""
    pending = [0] * len(records)
    for link in links:
        pending[link] += 1
    ready = [index for index, count in enumerate(pending) if not count]
    push = ready.append
    for index in ready:
        for alternatives in records[index].inputs:
            for alternative in alternatives:
                link = alternative.link
                left = pending[link] - 1
                pending[link] = left
                if not left:
                    push(link)
    return len(ready) == len(records)


def _raise_first_problem(config: CacheConfig, where: str) -> None:
    """The reference check: walks in document order and raises on the first problem found."""
    layers = config.layers
    n_layers = len(layers)
    n_records = len(config.records)
    for i, layer in enumerate(layers):
        if not layer.blob:
            raise FormatError(f"layers[{i}] has no blob digest", where=where)
        if not (layer.parent == -1 or 0 <= layer.parent < n_layers):
            raise FormatError(f"layers[{i}].parent {layer.parent} is out of range", where=where)
    _check_parent_loops(config, where)
    for j, record in enumerate(config.records):
        for k, result in enumerate(record.layers):
            if not 0 <= result.layer < n_layers:
                raise FormatError(
                    f"records[{j}].layers[{k}].layer {result.layer} is out of range", where=where
                )
        for k, chain in enumerate(record.chains):
            for index in chain.layers:
                if not 0 <= index < n_layers:
                    raise FormatError(
                        f"records[{j}].chains[{k}] layer {index} is out of range", where=where
                    )
        for k, alternatives in enumerate(record.inputs):
            if not alternatives:
                raise FormatError(f"records[{j}].inputs[{k}] is empty", where=where)
            for alternative in alternatives:
                if not 0 <= alternative.link < n_records:
                    raise FormatError(
                        f"records[{j}].inputs[{k}] link {alternative.link} is out of range",
                        where=where,
                    )
    _check_record_loops(config, where)


def _check_parent_loops(config: CacheConfig, where: str) -> None:
    node = _parent_loop_at([layer.parent for layer in config.layers])
    if node is not None:
        raise FormatError(f"layer parent loop through layers[{node}]", where=where)


def _check_record_loops(config: CacheConfig, where: str) -> None:
    # Iterative DFS with colours, so deep graphs cannot hit Python's recursion limit.
    links = [
        sorted({alt.link for alternatives in record.inputs for alt in alternatives})
        for record in config.records
    ]
    colour = [0] * len(links)
    for root in range(len(links)):
        if colour[root]:
            continue
        stack: list[tuple[int, int]] = [(root, 0)]
        colour[root] = 1
        while stack:
            node, next_child = stack[-1]
            if next_child < len(links[node]):
                stack[-1] = (node, next_child + 1)
                child = links[node][next_child]
                if colour[child] == 1:
                    raise FormatError(f"record loop through records[{child}]", where=where)
                if colour[child] == 0:
                    colour[child] = 1
                    stack.append((child, 0))
            else:
                colour[node] = 2
                stack.pop()


def encode_cache_config(config: CacheConfig) -> bytes:
    """Compact JSON in BuildKit's field order; a ``parent`` of 0 is omitted as Go does."""
    return encode_json(config)

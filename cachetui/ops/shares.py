"""Which caches share a layer: those that hold the same blob (by digest), and, separately, those
that hold the same content in another encoding (the same diffID, another digest: a gzip and a
zstd export of one build). Pure: computed from the analyses a listing already has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from cachetui.buildkit.analysis import LayerInfo
from cachetui.errors import NotFound, UsageError
from cachetui.oci.digest import is_digest
from cachetui.ops.inventory import CacheEntry

MIN_PREFIX = 6
"""Hex digits a shortened digest needs (the layers table shows 12)."""


def diff_id_of(layer: LayerInfo) -> str | None:
    """The layer's content digest: its ``containerd.io/uncompressed`` annotation, or for an
    uncompressed blob its own digest (the two are equal)."""
    if layer.diff_id:
        return layer.diff_id
    return layer.digest if layer.compression == "uncompressed" else None


class Holder(NamedTuple):
    """One cache that holds the layer, and the blob it holds it as."""

    entry: CacheEntry
    layer: LayerInfo


@dataclass(frozen=True, slots=True)
class Shares:
    digest: str
    diff_id: str | None
    same_blob: tuple[Holder, ...]
    """Caches whose manifest names this very blob."""
    same_content: tuple[Holder, ...]
    """Caches that hold the same diffID as another blob (another compression or level)."""

    @property
    def sources(self) -> int:
        return len({h.entry.source for h in (*self.same_blob, *self.same_content)})


def _order(holders: Iterable[Holder]) -> tuple[Holder, ...]:
    return tuple(sorted(holders, key=lambda h: (h.entry.source, h.entry.tag)))


def shares(entries: Iterable[CacheEntry], digest: str, diff_id: str | None = None) -> Shares:
    """Every readable cache in ``entries`` that holds blob ``digest``, or the same content
    (``diff_id``; taken from the first holder of the blob when not given)."""
    same_blob: list[Holder] = []
    by_content: list[Holder] = []
    for entry in entries:
        analysis = entry.analysis
        if analysis is None:
            continue
        for layer in analysis.layers:
            if layer.digest == digest:
                same_blob.append(Holder(entry, layer))
                diff_id = diff_id or diff_id_of(layer)
            elif diff_id_of(layer) is not None:
                by_content.append(Holder(entry, layer))
    same_content = [h for h in by_content if diff_id is not None and diff_id_of(h.layer) == diff_id]
    return Shares(digest, diff_id, _order(same_blob), _order(same_content))


def resolve_layer(entries: Sequence[CacheEntry], text: str) -> tuple[str, str | None]:
    """``(blob digest, diffID)`` for what a user typed: a blob digest, a diffID (the first blob
    with that content stands for it), or a unique prefix of either (``sha256:`` optional)."""
    wanted = text.strip().lower()
    if not wanted.startswith("sha256:"):
        wanted = "sha256:" + wanted
    hexpart = wanted.split(":", 1)[1]
    if len(hexpart) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in hexpart):
        raise UsageError(f"{text}: not a digest (sha256:HEX, or at least {MIN_PREFIX} hex "
                           "digits of one)")
    exact = is_digest(wanted)
    blobs: dict[str, str | None] = {}
    contents: dict[str, str] = {}
    for entry in entries:
        if entry.analysis is None:
            continue
        for layer in entry.analysis.layers:
            content = diff_id_of(layer)
            if layer.digest == wanted or (not exact and layer.digest.startswith(wanted)):
                blobs[layer.digest] = content
            if content is not None and (content == wanted
                                        or (not exact and content.startswith(wanted))):
                contents.setdefault(content, layer.digest)
    if len(blobs) == 1:
        (digest, content), = blobs.items()
        return digest, content
    if not blobs and len(contents) == 1:
        (content, digest), = contents.items()
        return digest, content
    if len(blobs) > 1 or len(contents) > 1:
        raise UsageError(f"{text}: matches {max(len(blobs), len(contents))} layers; give more "
                           "digits")
    raise NotFound(f"{text}: no cache of these sources has a layer with this digest or "
                       "diffID")

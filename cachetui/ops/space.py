"""Where the space goes: totals, deduplicated bytes, what each cache holds alone, what is
reclaimable, the biggest caches and bytes by age, per source and for everything open. Pure: it
is computed from the analyses a listing already has (CPU only; a UI calls it in a thread).

Blobs are counted per source, by digest: a directory or a repository stores a blob once however
many of its tags use it, and two sources store it twice (``ls``'s totals line counts the same
way: :func:`cachetui.ops.listing.totals` is built on :func:`holdings`). Layer blobs only: the
manifests and cache configs (a few KiB a cache) are left out, as in every size cachetui shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, NamedTuple

from cachetui.ops.inventory import CacheEntry

DAY: Final = timedelta(days=1)
AGE_BUCKETS: Final[tuple[tuple[str, timedelta | None], ...]] = (
    ("<1d", DAY), ("1-7d", 7 * DAY), ("7-30d", 30 * DAY), ("30-90d", 90 * DAY), (">90d", None))
"""(label, upper bound); a blob's age is that of the newest cache that uses it."""
UNKNOWN_AGE: Final = "unknown"
"""The bucket of blobs whose caches carry no creation time."""
TOP: Final = 10
"""Biggest caches kept per source and overall."""


@dataclass(slots=True)
class SourceBlobs:
    """The layer blobs of one source's caches: sizes, how many caches hold each, and the last
    time a cache that holds it was written."""

    entries: list[CacheEntry] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    holders: dict[str, int] = field(default_factory=dict)
    """Caches (tags) that hold the blob: a blob with one holder is freed by deleting that tag."""
    last_used: dict[str, datetime] = field(default_factory=dict)

    def add(self, entry: CacheEntry) -> None:
        analysis = entry.analysis
        assert analysis is not None
        self.entries.append(entry)
        newest = analysis.created_newest
        for layer in analysis.layers:
            self.sizes[layer.digest] = layer.size
            self.holders[layer.digest] = self.holders.get(layer.digest, 0) + 1
            if newest is not None and (layer.digest not in self.last_used
                                       or self.last_used[layer.digest] < newest):
                self.last_used[layer.digest] = newest

    @property
    def unique_bytes(self) -> int:
        return sum(self.sizes.values())


def holdings(entries: Iterable[CacheEntry]) -> dict[str, SourceBlobs]:
    """The readable entries grouped by source (in the order sources first appear)."""
    out: dict[str, SourceBlobs] = {}
    for entry in entries:
        if entry.analysis is not None:
            out.setdefault(entry.source, SourceBlobs()).add(entry)
    return out


@dataclass(frozen=True, slots=True)
class Reclaim:
    """What a source gives back without touching a cache anyone can import, as the existing
    maintenance plans compute it (gc of a directory, objects gc, gha superseded/orphans)."""

    now_bytes: int | None
    """Freed by running the maintenance now; None where the store cannot tell (registries)."""
    later_bytes: int = 0
    """Orphans younger than the grace period: freed by the same maintenance after it."""
    how: str = ""
    """What it is and which command frees it."""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CacheSize:
    """One cache among the biggest: its bytes and the bytes no other cache of its source holds
    (what deleting this tag alone frees)."""

    entry: CacheEntry
    size_bytes: int
    only_here_bytes: int
    newest: datetime | None


class AgeBar(NamedTuple):
    """One bucket of the bytes-by-age chart: blobs whose newest cache is this old."""

    label: str
    bytes: int
    blobs: int


@dataclass(frozen=True, slots=True)
class SpaceFigures:
    """The figures of one source, or of everything open (``name`` is then ``ALL``)."""

    name: str
    caches: int
    total_bytes: int
    """Every cache's layer bytes added up (a shared layer in each cache that has it)."""
    unique_bytes: int
    """Each blob once per source: what the source stores."""
    only_one_bytes: int
    """Blobs exactly one cache holds (deleting each such cache alone frees its share)."""
    reclaim_now: int | None
    reclaim_later: int | None
    reclaim_how: str
    ages: tuple[AgeBar, ...]
    biggest: tuple[CacheSize, ...]
    unreadable: int = 0
    """Tags that could not be read (their bytes are unknown and not counted)."""
    reclaim_errors: tuple[str, ...] = ()

    @property
    def shared_bytes(self) -> int:
        """What deduplication saves: ``total - unique``."""
        return self.total_bytes - self.unique_bytes


ALL: Final = "ALL"


@dataclass(frozen=True, slots=True)
class SpaceReport:
    sources: tuple[SpaceFigures, ...]
    overall: SpaceFigures
    unique_everywhere_bytes: int
    """Each blob once across every source (what one store holding everything would need)."""
    now: datetime

    def figures(self, name: str) -> SpaceFigures:
        """One source's figures (``ALL``: everything open)."""
        if name == ALL:
            return self.overall
        for figures in self.sources:
            if figures.name == name:
                return figures
        raise KeyError(name)


def _bucket(when: datetime | None, now: datetime) -> str:
    if when is None:
        return UNKNOWN_AGE
    age = now - when
    for label, upper in AGE_BUCKETS:
        if upper is None or age < upper:
            return label
    return AGE_BUCKETS[-1][0]


def _bars(counts: Mapping[str, tuple[int, int]]) -> tuple[AgeBar, ...]:
    """Every bucket in order (empty ones too: a chart with gaps reads wrong); ``unknown`` only
    when something is in it."""
    labels = [label for label, _ in AGE_BUCKETS]
    if counts.get(UNKNOWN_AGE, (0, 0))[1]:
        labels.append(UNKNOWN_AGE)
    return tuple(AgeBar(label, *counts.get(label, (0, 0))) for label in labels)


def _biggest(sizes: Iterable[CacheSize], top: int) -> tuple[CacheSize, ...]:
    ranked = sorted(sizes, key=lambda c: (-c.size_bytes, c.entry.source, c.entry.tag))
    return tuple(ranked[:top])


def _source_figures(name: str, blobs: SourceBlobs, reclaim: Reclaim | None, now: datetime,
                    top: int, unreadable: int) -> tuple[SpaceFigures, list[CacheSize]]:
    alone = {digest for digest, count in blobs.holders.items() if count == 1}
    caches = []
    for entry in blobs.entries:
        analysis = entry.analysis
        assert analysis is not None
        only_here = sum(layer.size for layer in analysis.layers if layer.digest in alone)
        caches.append(CacheSize(entry, analysis.size_bytes, only_here, analysis.created_newest))
    counts: dict[str, tuple[int, int]] = {}
    for digest, size in blobs.sizes.items():
        label = _bucket(blobs.last_used.get(digest), now)
        total, number = counts.get(label, (0, 0))
        counts[label] = (total + size, number + 1)
    reclaim = reclaim or Reclaim(None)
    figures = SpaceFigures(
        name=name,
        caches=len(blobs.entries),
        total_bytes=sum(c.size_bytes for c in caches),
        unique_bytes=blobs.unique_bytes,
        only_one_bytes=sum(blobs.sizes[d] for d in alone),
        reclaim_now=reclaim.now_bytes,
        reclaim_later=reclaim.later_bytes if reclaim.now_bytes is not None else None,
        reclaim_how=reclaim.how,
        ages=_bars(counts),
        biggest=_biggest(caches, top),
        unreadable=unreadable,
        reclaim_errors=(reclaim.error,) if reclaim.error else (),
    )
    return figures, caches


def _known_sum(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def space_report(entries: Sequence[CacheEntry], reclaim: Mapping[str, Reclaim], *,
                 now: datetime, top: int = TOP) -> SpaceReport:
    """Figures per source (every source with an entry or a reclaim figure; the biggest first,
    by bytes stored) and overall."""
    held = holdings(entries)
    unreadable: dict[str, int] = {}
    for entry in entries:
        if entry.analysis is None:
            unreadable[entry.source] = unreadable.get(entry.source, 0) + 1
    names = list(dict.fromkeys([*(e.source for e in entries), *reclaim]))
    sources: list[SpaceFigures] = []
    every_cache: list[CacheSize] = []
    for name in names:
        figures, caches = _source_figures(name, held.get(name, SourceBlobs()), reclaim.get(name),
                                          now, top, unreadable.get(name, 0))
        sources.append(figures)
        every_cache += caches
    sources.sort(key=lambda f: (-f.unique_bytes, f.name))
    counts: dict[str, tuple[int, int]] = {}
    for figures in sources:
        for bar in figures.ages:
            total, number = counts.get(bar.label, (0, 0))
            counts[bar.label] = (total + bar.bytes, number + bar.blobs)
    hows = list(dict.fromkeys(f.reclaim_how for f in sources if f.reclaim_now is not None))
    overall = SpaceFigures(
        name=ALL,
        caches=sum(f.caches for f in sources),
        total_bytes=sum(f.total_bytes for f in sources),
        unique_bytes=sum(f.unique_bytes for f in sources),
        only_one_bytes=sum(f.only_one_bytes for f in sources),
        reclaim_now=_known_sum(f.reclaim_now for f in sources),
        reclaim_later=_known_sum(f.reclaim_later for f in sources),
        reclaim_how="; ".join(hows),
        ages=_bars(counts),
        biggest=_biggest(every_cache, top),
        unreadable=sum(unreadable.values()),
        reclaim_errors=tuple(e for f in sources for e in f.reclaim_errors),
    )
    everywhere: dict[str, int] = {}
    for blobs in held.values():
        everywhere.update(blobs.sizes)
    return SpaceReport(tuple(sources), overall, sum(everywhere.values()), now)

"""The main screen's view model: sources, rows, filter and sort. Textual-free, so it is unit-testable.

Rows are built from parsed :class:`CacheEntry` summaries once; tables render from them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from cachetui.ops.inventory import CacheEntry
from cachetui.present import units


class SourceStatus(StrEnum):
    PENDING = "pending"
    LOADING = "loading"
    DONE = "done"
    FAILED = "failed"


@dataclass(slots=True)
class SourceState:
    """One store the main screen shows (a directory, or one registry repository)."""

    id: str
    label: str
    kind: str
    """``directory``, ``registry`` (a repository) or ``host`` (a whole registry)."""
    parent: str | None = None
    """For repositories opened from a host: the host's source id."""
    accent: str | None = None
    read_only: bool = False
    status: SourceStatus = SourceStatus.PENDING
    done: int = 0
    total: int | None = None
    error: str | None = None
    unreferenced: int | None = None
    failed_tags: int = 0
    refreshing: bool = False
    """Rows of the last known inventory are shown while the fresh listing runs."""
    quota: tuple[int, int] | None = None
    """``(used, limit)`` bytes of a source that evicts past a limit (a gha repository)."""

    @property
    def progress_text(self) -> str:
        text = self._progress()
        if self.quota is None or self.status is SourceStatus.FAILED:
            return text
        used, limit = self.quota
        share = f"{units.size(used)} of {units.size(limit)} ({units.percent(used, limit)})"
        return f"{text}, {share}" if text else share

    def _progress(self) -> str:
        if self.status is SourceStatus.FAILED:
            message = self.error or "failed"
            # The tree row already names the source: lead with what went wrong.
            for where in (self.id, self.id.removeprefix("./")):
                for sep in ("/", ": "):
                    message = message.removeprefix(where + sep)
            return "✗ " + message
        if self.total is None:
            if self.status is SourceStatus.LOADING:
                return "refreshing…" if self.refreshing else "…"
            return ""
        if self.status is SourceStatus.LOADING:
            return f"refreshing {self.done} of {self.total}" if self.refreshing else \
                f"{self.done} of {self.total}"
        if self.total == 1 and not self.failed_tags:
            return ""  # a directory with its one tag: the name says enough in a narrow pane
        text = f"{self.total} tag{'s' if self.total != 1 else ''}"
        return f"{text}, {self.failed_tags} bad" if self.failed_tags else text


class SortKey(StrEnum):
    NAME = "name"
    SIZE = "size"
    AGE = "age"
    MIN = "min"
    DELTA = "delta"
    LAYERS = "layers"
    WHERE = "where"
    FORM = "form"
    COMPRESSION = "compression"
    UNREFERENCED = "unreferenced"


@dataclass(frozen=True, slots=True)
class Row:
    """One cache table row: a tag of a source (or its error)."""

    key: str
    source_id: str
    entry: CacheEntry

    @property
    def name(self) -> str:
        return self.entry.tag

    @property
    def size(self) -> int:
        return self.entry.analysis.size_bytes if self.entry.analysis else -1

    @property
    def newest(self) -> datetime | None:
        return self.entry.analysis.created_newest if self.entry.analysis else None

    def text(self) -> str:
        """What the filter matches against."""
        analysis = self.entry.analysis
        parts = [self.entry.source, self.entry.tag, self.entry.error or ""]
        if analysis is not None:
            parts += [str(analysis.document.format), *analysis.compression,
                      analysis.document.top.digest]
        return " ".join(parts).lower()


def matches(row: Row, query: str) -> bool:
    """Substring filter; a leading ``!`` negates it; empty matches everything."""
    query = query.strip().lower()
    if not query or query == "!":
        return True
    if query.startswith("!"):
        return query[1:] not in row.text()
    return query in row.text()


SortValue = tuple[object, ...]
SortMemo = dict[str, tuple[CacheEntry, SortKey, SortValue]]
"""Each row's sort value by row key, with the entry and sort key it was made for."""


def sort_value(row: Row, key: SortKey, unreferenced: dict[str, int | None]) -> SortValue:
    """What ``row`` sorts by under ``key``: rows with errors after every good row."""
    a = row.entry.analysis
    if a is None:
        return (1, row.entry.source, row.name)
    match key:
        case SortKey.SIZE:
            v: object = a.size_bytes
        case SortKey.AGE:
            v = a.created_newest.timestamp() if a.created_newest else 0.0
        case SortKey.MIN:
            v = a.minmax.min_bytes
        case SortKey.DELTA:
            v = a.minmax.delta_bytes
        case SortKey.LAYERS:
            v = a.layer_count
        case SortKey.WHERE:
            v = row.entry.source
        case SortKey.FORM:
            v = str(a.document.format)
        case SortKey.COMPRESSION:
            v = ",".join(a.compression)
        case SortKey.UNREFERENCED:
            v = unreferenced.get(row.source_id) or 0
        case _:
            v = row.name
    return (0, v, row.entry.source, row.name)


def sort_rows(rows: list[Row], key: SortKey, reverse: bool,
              unreferenced: dict[str, int | None], memo: SortMemo | None = None) -> list[Row]:
    """Rows in display order; rows with errors always sort last.

    ``memo`` keeps each row's sort value between calls (the main screen sorts thousands of rows
    at every redraw while sources stream in; most rows did not change). Values that depend on
    ``unreferenced`` are not kept.
    """
    if memo is None or key is SortKey.UNREFERENCED:
        def value(row: Row) -> SortValue:
            return sort_value(row, key, unreferenced)
    else:
        def value(row: Row) -> SortValue:
            kept = memo.get(row.key)
            if kept is not None and kept[0] is row.entry and kept[1] is key:
                return kept[2]
            made = sort_value(row, key, unreferenced)
            memo[row.key] = (row.entry, key, made)
            return made

    good = [r for r in rows if r.entry.analysis is not None]
    bad = [r for r in rows if r.entry.analysis is None]
    good.sort(key=value, reverse=reverse)
    bad.sort(key=value)
    return good + bad


def blob_users(rows: list[Row]) -> Counter[str]:
    """How many distinct caches (by manifest digest) in view hold each blob."""
    seen: set[str] = set()
    users: Counter[str] = Counter()
    for row in rows:
        analysis = row.entry.analysis
        if analysis is None or analysis.document.top.digest in seen:
            continue
        seen.add(analysis.document.top.digest)
        users.update(layer.digest for layer in analysis.layers)
    return users


def short_digest(digest: str | None, length: int = 12) -> str:
    if not digest:
        return "-"
    return digest.split(":", 1)[-1][:length]


def size(value: int | None) -> str:
    return units.size(value)


def age(value: datetime | None, now: datetime) -> str:
    return units.age(value, now)


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


@dataclass(slots=True)
class Marks:
    """Marked row keys, in marking order (compare uses the last two)."""

    keys: list[str] = field(default_factory=list)

    def toggle(self, key: str) -> bool:
        if key in self.keys:
            self.keys.remove(key)
            return False
        self.keys.append(key)
        return True

    def discard(self, key: str) -> None:
        if key in self.keys:
            self.keys.remove(key)


def compact_size(value: int | None) -> str:
    """``1.2M``-style sizes for the narrow main table."""
    if value is None or value < 0:
        return "-"
    for unit in ("B", "K", "M", "G", "T"):
        if value < 1024 or unit == "T":
            return f"{value}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value = value / 1024  # type: ignore[assignment]
    return "-"


AGE_STEPS = ((3600, 60, "m"), (86400, 3600, "h"), (86400 * 60, 86400, "d"),
             (86400 * 730, 86400 * 30, "mo"))
"""(below this many seconds, count in units of this many seconds, unit)."""
YEAR = 86400 * 365


def compact_age(value: datetime | None, now: datetime) -> str:
    """``3d ago``-style ages for the narrow main table."""
    return compact_age_until(value, now)[0]


def compact_age_until(value: datetime | None, now: datetime) -> tuple[str, datetime | None]:
    """:func:`compact_age`, and the moment it next changes (None: never), so a table of
    thousands of rows makes an age text again only when it changed."""
    if value is None:
        return "-", None
    seconds = (now - value).total_seconds()
    if seconds < 60:
        return "now", value + timedelta(seconds=60)
    for limit, div, unit in AGE_STEPS:
        if seconds < limit:
            count = int(seconds // div)
            return f"{count}{unit} ago", value + timedelta(seconds=min((count + 1) * div, limit))
    count = int(seconds // YEAR)
    return f"{count}y ago", value + timedelta(seconds=(count + 1) * YEAR)


def compression_label(compression: tuple[str, ...]) -> str:
    names = ["none" if c == "uncompressed" else c for c in compression]
    return "+".join(names) if names else "-"

"""The space report as text, for ``cachetui space`` and the TUI's space screen alike: the
per-source rows and the bytes-by-age chart (block characters, ``#`` where the output encoding
cannot show them)."""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from typing import Final

from cachetui.ops.space import ALL, AgeBar, SpaceFigures
from cachetui.present import units

EIGHTHS: Final = " ▏▎▍▌▋▊▉█"
"""A cell filled by 0 to 8 eighths: bars keep their proportions at any width."""
ASCII_FULL: Final = "#"

SOURCE_HEADERS: Final = ("SOURCE", "CACHES", "TOTAL", "UNIQUE", "ONLY ONE", "RECLAIM NOW",
                         "AFTER GRACE")
SOURCE_RIGHT: Final = (1, 2, 3, 4, 5, 6)
CHART_TITLE: Final = "Bytes by age (each blob once, at its newest cache's age)"


def can_show_blocks(encoding: str | None) -> bool:
    """Whether text in ``encoding`` can carry the chart's block characters (``None``: assume
    UTF-8, as a pipe with no declared encoding is read by modern tools)."""
    if not encoding:
        return True
    try:
        codecs.lookup(encoding)
        EIGHTHS.strip().encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return False
    return True


def bar(value: int, largest: int, width: int, *, ascii_only: bool = False) -> str:
    """A bar of ``width`` cells at most, ``value / largest`` long; never empty for a non-zero
    value (a sliver still says "something is here")."""
    if value <= 0 or largest <= 0 or width <= 0:
        return ""
    eighths = max(1, round(width * 8 * value / largest))
    if ascii_only:
        return ASCII_FULL * max(1, round(eighths / 8))
    full, rest = divmod(eighths, 8)
    return EIGHTHS[-1] * full + (EIGHTHS[rest] if rest else "")


def chart_lines(bars: Sequence[AgeBar], *, width: int, ascii_only: bool = False) -> list[str]:
    """One line per age bucket: ``  1-7d    ██████▍        12.3 MiB  41 blobs``; the bar part is
    sized so the whole line fits ``width`` columns."""
    label_width = max((len(b.label) for b in bars), default=0)
    sizes = [units.size(b.bytes) for b in bars]
    counts = [units.count(b.blobs, "blob") for b in bars]
    size_width = max((len(s) for s in sizes), default=0)
    count_width = max((len(c) for c in counts), default=0)
    room = max(width - (2 + label_width + 2 + 2 + size_width + 2 + count_width), 4)
    largest = max((b.bytes for b in bars), default=0)
    lines = []
    for item, size, count in zip(bars, sizes, counts, strict=True):
        drawn = bar(item.bytes, largest, room, ascii_only=ascii_only)
        lines.append(f"  {item.label:<{label_width}}  {drawn:<{room}}  {size:>{size_width}}  "
                     f"{count:<{count_width}}".rstrip())
    return lines


def reclaim_cell(value: int | None) -> str:
    return "?" if value is None else units.size(value)


def source_name(figures: SpaceFigures) -> str:
    return "ALL OPEN" if figures.name == ALL else figures.name


def source_row(figures: SpaceFigures, label: str | None = None) -> list[str]:
    """The cells of one row under :data:`SOURCE_HEADERS`."""
    return [
        label if label is not None else source_name(figures),
        str(figures.caches),
        units.size(figures.total_bytes),
        units.size(figures.unique_bytes),
        units.size(figures.only_one_bytes),
        reclaim_cell(figures.reclaim_now),
        reclaim_cell(figures.reclaim_later),
    ]


def summary_lines(figures: SpaceFigures, *, unique_everywhere: int | None = None) -> list[str]:
    """What the figures mean, in words (under the CLI's table, above the TUI's)."""
    lines = [
        f"{units.count(figures.caches, 'cache')}, {units.size(figures.total_bytes)}; stored once: "
        f"{units.size(figures.unique_bytes)}; in one cache only: "
        f"{units.size(figures.only_one_bytes)}",
    ]
    if figures.reclaim_now is not None:
        later = figures.reclaim_later or 0
        lines.append(f"reclaimable now {units.size(figures.reclaim_now)}"
                     + (f", {units.size(later)} after the grace period" if later else "")
                     + (f": {figures.reclaim_how}" if figures.reclaim_how else ""))
    elif figures.reclaim_errors:
        lines.append(f"reclaimable: unknown: {figures.reclaim_errors[0]}")
    elif figures.reclaim_how:
        lines.append(f"reclaimable: unknown ({figures.reclaim_how})")
    if unique_everywhere is not None and unique_everywhere != figures.unique_bytes:
        lines.append(f"{units.size(unique_everywhere)} if every source's blobs were stored in "
                     "one place")
    if figures.unreadable:
        lines.append(f"{units.count(figures.unreadable, 'tag')} could not be read (not counted)")
    return lines

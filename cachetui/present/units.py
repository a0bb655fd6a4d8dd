"""Human-readable sizes and ages (humanize, with one fixed style for the CLI and the TUI)."""

from __future__ import annotations

from datetime import UTC, datetime

import humanize


def size(value: int | None) -> str:
    if value is None:
        return "-"
    return str(humanize.naturalsize(value, binary=True, format="%.1f"))


def age(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "-"
    now = now or datetime.now(UTC)
    return str(humanize.naturaltime(now - value))


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``1 tag``, ``3 tags``: a number with its noun agreeing."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def percent(part: int, whole: int) -> str:
    """``42%``; one decimal under 10%, and ``<0.1%`` rather than a used quota reading 0%."""
    if whole <= 0:
        return "-"
    share = 100.0 * part / whole
    if 0 < share < 0.1:
        return "<0.1%"
    return f"{share:.1f}%" if share < 10 else f"{share:.0f}%"

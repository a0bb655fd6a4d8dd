"""RFC 3339 times as BuildKit writes them (nanoseconds, trailing zeros dropped, ``Z``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Final

_RFC3339: Final = re.compile(
    r"\A(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})\Z"
)


@lru_cache(maxsize=4096)
def parse_time(text: str | None) -> datetime | None:
    """Parse an RFC 3339 time; ``None`` for missing, malformed or Go's zero time.

    Memoised: the caches of one repository share most layers, and so their creation times
    (a datetime is immutable, so sharing one is safe)."""
    if not text:
        return None
    match = _RFC3339.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if year == "0001":
        return None
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    if zone in ("Z", "z"):
        tz = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
        ).astimezone(UTC)
    except ValueError:
        return None


def format_time(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, for JSON output."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

"""Alternating rounds and medians (shared by the benchmarks): the machine is shared, so each
contender runs in turn, several times, and the median of each is compared."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable


def load() -> str:
    """The load average, printed with every result (a busy machine skews ratios)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def alternate(rounds: int, contenders: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Run every contender once per round, in turn; the median seconds of each."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            times[name].append(run())
    return {name: statistics.median(values) for name, values in times.items()}


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"

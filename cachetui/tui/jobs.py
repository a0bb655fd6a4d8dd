"""Background jobs (copy, prune, re-export...): state, progress, cancellation. Textual-free.

The app runs each job's coroutine in a worker; the job's sink keeps only the latest progress and
asks for one repaint at a time, so a job reporting every chunk never floods the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cachetui.ops.progress import CancelToken, Progress, ProgressSink

JobRun = Callable[[ProgressSink, CancelToken], Awaitable[object]]


class JobState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(slots=True, eq=False)
class Job:
    """One running or finished job, as the jobs panel shows it."""

    id: int
    title: str
    refresh: tuple[str, ...] = ()
    """Source ids the main screen rescans when the job ends (what it changed)."""
    token: CancelToken = field(default_factory=CancelToken)
    state: JobState = JobState.RUNNING
    progress: Progress | None = None
    error: str | None = None
    result: object = None
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    worker: Any = None
    """The Textual worker running the job (cancelled together with the token)."""
    posted: bool = False
    """A repaint message is pending; further progress only updates :attr:`progress`."""
    clock: Callable[[], float] = time.monotonic
    """Seconds for rate and ETA (tests fix it, so snapshots do not depend on the wall clock)."""

    @property
    def running(self) -> bool:
        return self.state is JobState.RUNNING

    def elapsed(self, now: float | None = None) -> float:
        end = self.ended if self.ended is not None else (now or self.clock())
        return max(end - self.started, 1e-6)

    def rate(self, now: float | None = None) -> float | None:
        """Units per second (bytes/s for byte progress)."""
        if self.progress is None or self.progress.done <= 0:
            return None
        return self.progress.done / self.elapsed(now)

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left, when the total is known and something was done."""
        rate = self.rate(now)
        if not self.running or self.progress is None or self.progress.total is None or not rate:
            return None
        return max(self.progress.total - self.progress.done, 0) / rate

    def cancel(self) -> None:
        self.token.cancel()
        if self.worker is not None:
            self.worker.cancel()


def format_rate(job: Job) -> str:
    rate = job.rate()
    if rate is None or job.progress is None:
        return ""
    if job.progress.unit == "bytes":
        from cachetui.tui.model import compact_size

        return f"{compact_size(int(rate))}/s"
    return f"{rate:.1f} {job.progress.unit}/s"


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    return f"ETA {seconds // 60}:{seconds % 60:02d}"

"""Progress reporting and cancellation shared by every long operation.

Operations report through a :class:`ProgressSink` (any callable taking a :class:`Progress`) and
check a :class:`CancelToken`. The CLI prints progress, the TUI turns it into messages; neither
changes the operation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from cachetui.errors import Cancelled


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot of one operation's progress. ``total`` may be unknown (``None``)."""

    task: str
    done: int = 0
    total: int | None = None
    unit: str = "bytes"
    detail: str = ""


ProgressSink = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """A sink that drops everything."""


class CancelToken:
    """Set from any thread (a key press, a signal); checked by operations between chunks."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancellation was asked for."""
        if self._event.is_set():
            raise Cancelled("cancelled")

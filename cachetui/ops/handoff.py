"""Split one blob's codec work across two threads: a producer hands items to a consumer.

One layer used to be decoded, hashed, encoded, checked and hashed again in one thread, so the
last layer of a re-export ran on one core while the others idled. :func:`pipelined` runs the
consumer half in a thread of its own beside the caller (the producer): both halves are C code that
releases the GIL (ISA-L, zstd, hashlib on 1 MiB blocks), so one layer uses two cores. The queue
between them is bounded (:data:`DEPTH` items), so memory stays flat; a failure on either side
stops the other and is raised in the caller, the consumer's first.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Final, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")

DEPTH: Final = 4
"""Items waiting between the two threads (1 MiB blocks: 4 MiB per layer at most)."""

_POLL: Final = 0.05
"""Seconds between looks at the other side's failure while the queue is full or empty."""


class _End:
    """The producer has finished: no more items."""


_END: Final = _End()


class _Stopped(Exception):
    """The other side failed; this side stops (the caller raises the real error)."""


class Handoff(Generic[T]):
    """The bounded queue between the two threads, with a flag either side raises on failure."""

    def __init__(self, depth: int = DEPTH) -> None:
        self._queue: queue.Queue[T | _End] = queue.Queue(depth)
        self.failed = threading.Event()
        self.ended = False

    def put(self, item: T) -> None:
        """Producer: hand over ``item`` (blocks while the queue is full)."""
        self._put(item)

    def close(self) -> None:
        """Producer: no more items."""
        self._put(_END)

    def _put(self, item: T | _End) -> None:
        while True:
            if self.failed.is_set():
                raise _Stopped
            try:
                self._queue.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[T]:
        """Consumer: the items in order, until the producer closes."""
        while True:
            if self.failed.is_set():
                raise _Stopped
            try:
                item = self._queue.get(timeout=_POLL)
            except queue.Empty:
                continue
            if isinstance(item, _End):
                self.ended = True
                return
            yield item


def pipelined(produce: Callable[[Handoff[T]], R], consume: Callable[[Iterator[T]], S],
              *, name: str = "cachetui-stage") -> tuple[R, S]:
    """Run ``consume`` in a new thread over what ``produce`` (in this thread) puts; when both
    are done, both results. Either one failing stops the other; its error is raised here once
    both have ended (no thread is left running)."""
    handoff: Handoff[T] = Handoff()
    errors: list[BaseException] = []
    results: list[S] = []

    def consumer() -> None:
        try:
            results.append(consume(iter(handoff)))
            if not handoff.ended:
                raise RuntimeError("the consumer stopped before the producer's last item")
        except _Stopped:
            pass
        except BaseException as exc:  # raised in the caller's thread
            errors.append(exc)
            handoff.failed.set()

    thread = threading.Thread(target=consumer, name=name, daemon=True)
    thread.start()
    try:
        result = produce(handoff)
        handoff.close()
    except _Stopped:
        thread.join()
        raise errors[0] from None
    except BaseException:
        handoff.failed.set()
        thread.join()
        raise
    thread.join()
    if errors:
        raise errors[0]
    return result, results[0]

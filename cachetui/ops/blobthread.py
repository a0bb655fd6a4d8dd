"""Run synchronous codec work on a blob's bytes in a worker thread, fed from the async stream.

Decoding, encoding and hashing are CPU bound and release the GIL, so they run in a pool as wide
as the machine while the event loop keeps reading: a pump task reads a few chunks ahead into a
thread-safe queue (bounded: :data:`READ_AHEAD` chunks per blob), and the worker pulls them one at
a time through a blocking :class:`~cachetui.ops.codecs.ChunkReader`. One thread hop per blob,
not one per chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

from cachetui.errors import Cancelled
from cachetui.oci.models import Descriptor
from cachetui.ops.codecs import ChunkReader
from cachetui.ops.progress import CancelToken
from cachetui.store.base import Store

T = TypeVar("T")

READ_AHEAD: Final = 4
"""Source chunks fetched ahead of the codec thread (bounded memory: 4 MiB per blob)."""


class Bridge:
    """A blocking chunk reader (for a worker thread) over an async chunk iterator on ``loop``."""

    def __init__(self, chunks: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop,
                 stop: threading.Event) -> None:
        self._chunks = chunks
        self._loop = loop
        self._stop = stop
        self._queue: queue.SimpleQueue[bytes | BaseException] = queue.SimpleQueue()
        self._credits = asyncio.Semaphore(READ_AHEAD)
        self._pump = loop.create_task(self._run())
        self.done = False

    async def _run(self) -> None:
        try:
            async for chunk in self._chunks:
                self._queue.put(chunk)
                await self._credits.acquire()
                if self._stop.is_set():
                    return
            self._queue.put(b"")
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the codec thread, which raises it
            self._queue.put(exc)

    def read_chunk(self) -> bytes:
        if self._stop.is_set():
            raise Cancelled("cancelled")
        if self.done:
            return b""
        while True:
            try:
                item = self._queue.get(timeout=0.05)
                break
            except queue.Empty:
                if self._stop.is_set():
                    raise Cancelled("cancelled") from None
        if isinstance(item, BaseException):
            self.done = True
            raise item
        self._loop.call_soon_threadsafe(self._credits.release)
        if not item:
            self.done = True
        return item

    async def aclose(self) -> None:
        """Stop the pump (on the loop), then close the source iterator."""
        self._pump.cancel()
        with contextlib.suppress(BaseException):
            await self._pump
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()


_EXECUTOR: ThreadPoolExecutor | None = None


def cpu_executor() -> ThreadPoolExecutor:
    """One pool for CPU-bound layer work, as wide as the machine."""
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = ThreadPoolExecutor(max_workers=os.cpu_count() or 2,
                                       thread_name_prefix="cachetui-codec")
    return _EXECUTOR


async def run_on_blob(store: Store, descriptor: Descriptor,
                      work: Callable[[ChunkReader, threading.Event], T], *,
                      cancel: CancelToken | None = None,
                      on_bytes: Callable[[int], None] | None = None) -> T:
    """``work(reader, stop)`` in the codec pool over the bytes of ``descriptor``'s blob.

    ``on_bytes`` is called on the event loop with the size of each source chunk. On cancel or
    failure ``stop`` is set and the worker is waited for before this returns or raises.
    """
    loop = asyncio.get_running_loop()
    stop = threading.Event()
    blob = store.open_blob(descriptor)

    async def counted() -> AsyncGenerator[bytes, None]:
        async for chunk in blob:
            if cancel is not None and cancel.cancelled:
                stop.set()
                raise Cancelled("cancelled")
            if on_bytes is not None:
                on_bytes(len(chunk))
            yield chunk

    bridge = Bridge(counted(), loop, stop)
    future = cpu_executor().submit(work, bridge, stop)
    try:
        return await asyncio.wrap_future(future)
    finally:
        stop.set()
        if not future.done():
            # The worker may be waiting for one more chunk from this loop: let it see stop.
            with contextlib.suppress(BaseException):
                await asyncio.wrap_future(future)
        await bridge.aclose()

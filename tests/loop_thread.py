"""Test servers that run their own event loop in a thread.

In-process CLI runs (``cachetui.cli.main`` calls ``asyncio.run``) and async tests can then both
talk to them. Subclasses start their listeners in :meth:`serve_on` and register each connection's
task with :meth:`track` so :meth:`stop` can end it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Self


class LoopThread:
    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.AbstractServer] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    async def serve_on(self) -> None:
        """Start the listeners (in the server's loop)."""
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.serve_on(), self._loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _stop(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def track(self) -> asyncio.Task[Any]:
        """The current connection's task, ended by :meth:`stop` (call :meth:`untrack` after)."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        return task

    def untrack(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)

"""``transport.paced``: a body that keeps the pace arrives whole, in order, without a task per
piece (a task and a wait per piece were a measurable share of a 3,000-cache listing's CPU); one
that falls under the pace fails with TooSlow after about one window, not never."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cachetui.store.registry.slow import TooSlow
from cachetui.store.registry.transport import Pace, paced


class _Pieces(httpx.AsyncByteStream):
    def __init__(self, pieces: list[bytes], gap: float) -> None:
        self._pieces = pieces
        self._gap = gap

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            if self._gap:
                await asyncio.sleep(self._gap)
            yield piece


async def _read(pieces: list[bytes], gap: float, pace: Pace) -> list[bytes]:
    response = httpx.Response(200, stream=_Pieces(pieces, gap))
    return [piece async for piece in paced(response, pace)]


async def test_a_body_at_pace_arrives_whole_without_a_task_per_piece() -> None:
    loop = asyncio.get_running_loop()
    created = 0
    default = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        nonlocal created
        created += 1
        if default is not None:
            return default(loop, coro, **kwargs)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counting)
    try:
        pieces = [bytes([i % 256]) * 100 for i in range(2000)]
        got = await _read(pieces, 0, Pace(min_rate=1024, window=0.5))
    finally:
        loop.set_task_factory(default)
    assert got == pieces
    assert created < 10, created


async def test_a_dripping_body_fails_after_about_one_window() -> None:
    started = time.monotonic()
    with pytest.raises(TooSlow, match="under the minimum"):
        await _read([b"x"] * 100, 0.05, Pace(min_rate=1000, window=0.3))
    assert time.monotonic() - started < 2.0


async def test_a_body_that_keeps_the_pace_over_many_windows_is_not_cut() -> None:
    pieces = [b"y" * 200] * 20  # 200 bytes every 50 ms = 4,000 B/s over 1 s
    assert await _read(pieces, 0.05, Pace(min_rate=1000, window=0.2)) == pieces

"""A synthetic blob of any size, made chunk by chunk (never whole in memory), for the streaming
benches: each chunk differs (its index up front) so no layer of the stack can deduplicate them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from cachetui.store.base import CHUNK_SIZE

SEED = os.urandom(CHUNK_SIZE)


def chunk(i: int) -> bytes:
    return i.to_bytes(8, "big") + SEED[8:]


async def chunks(count: int) -> AsyncIterator[bytes]:
    for i in range(count):
        yield chunk(i)

"""Fill a loopback registry with many tags over a few distinct caches (shared by benchmarks)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cachetui.store.layout import LayoutStore
from cachetui.store.registry import RegistrySession


async def fill_registry(host: str, repository: str, layout: Path, *, distinct: int,
                        copies: int) -> None:
    """Push tags ``m00``.. of ``layout`` as ``cache-II-JJ``: ``copies`` tags per manifest."""
    source = LayoutStore(layout)
    async with RegistrySession() as session:
        store = session.store(host, repository)
        for i in range(distinct):
            top = await source.get_manifest(f"m{i:02d}")
            for child in top.children():
                await store.put_blob(child, source.open_blob(child))
            await asyncio.gather(*(store.put_manifest(top, f"cache-{i:02d}-{j:02d}")
                                   for j in range(copies)))

"""Scan a whole registry: its catalog, then every repository, as one stream of scan events.

The session-agnostic shape (a catalog function and a store factory) keeps ``ops`` free of HTTP
details; the CLI and the TUI pass :class:`~cachetui.store.registry.RegistrySession` methods.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from cachetui.errors import CachetuiError
from cachetui.ops.inventory import (
    DEFAULT_CONCURRENCY,
    PARALLEL_STORES,
    ScanEvent,
    ScanFailed,
    scan_store,
)
from cachetui.ops.load import DocumentMemo
from cachetui.ops.progress import CancelToken
from cachetui.ops.transfer import run_all
from cachetui.store.base import Store


async def scan_registry(
    host: str,
    catalog: Callable[[], Awaitable[list[str]]],
    open_store: Callable[[str], Store],
    *,
    memo: DocumentMemo | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    parallel: int = PARALLEL_STORES,
    cancel: CancelToken | None = None,
) -> AsyncIterator[ScanEvent]:
    """Events of :func:`scan_store` for every repository the catalog lists, ``parallel``
    repositories at a time (events of different repositories interleave; each repository's own
    events keep their order).

    ``open_store`` gets names from the catalog (a registry store should be opened ``listed``, so a
    repository without tags is empty, not an error). A catalog the registry refuses (many hosted
    registries do) yields one :class:`ScanFailed`.
    One memo serves all repositories, so a manifest shared across them is classified once.
    """
    memo = memo if memo is not None else DocumentMemo()
    try:
        repositories = await catalog()
    except CachetuiError as exc:
        yield ScanFailed(host, str(exc))
        return
    waiting = iter(repositories)
    events: asyncio.Queue[ScanEvent | None] = asyncio.Queue(maxsize=256)

    async def worker() -> None:
        for repository in waiting:  # one shared iterator: each repository is taken once
            if cancel is not None:
                cancel.check()
            try:
                store = open_store(repository)
            except CachetuiError as exc:  # a catalog name that is no valid repository name
                await events.put(ScanFailed(f"{host}/{repository}", str(exc)))
                continue
            async for event in scan_store(store, memo=memo, concurrency=concurrency):
                await events.put(event)

    async def run() -> None:
        try:
            await run_all(worker() for _ in range(max(1, min(parallel, len(repositories)))))
        finally:
            await events.put(None)

    runner = asyncio.create_task(run())
    try:
        while (event := await events.get()) is not None:
            yield event
        await runner  # a worker's error (a cancel) surfaces here
    finally:
        runner.cancel()

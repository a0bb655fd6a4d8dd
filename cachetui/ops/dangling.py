"""Dangling references of one cache in any store: layers its cache config names whose blob is
gone (moby/buildkit#3223: a lifecycle rule or a hand-run cleanup deleted it; the next build
that needs the layer fails with a 404), with the records that will miss.

The same model as the object-store scan (:func:`cachetui.ops.objscan.missing_blobs`); only how
presence is learnt differs: a listing there, one size query per blob here (any store has it).
"""

from __future__ import annotations

import asyncio
from typing import Final

from cachetui.buildkit.document import CacheDocument
from cachetui.oci.digest import Digest
from cachetui.ops.objscan import MissingBlob, has_object_listing, missing_blobs
from cachetui.store.base import Store

PARALLEL_CHECKS: Final = 8


async def dangling_references(store: Store, document: CacheDocument) -> tuple[MissingBlob, ...]:
    """Which blobs of ``document``'s cache config ``store`` no longer has (reads only)."""
    config = document.config
    if config is None:
        return ()
    limit = asyncio.Semaphore(PARALLEL_CHECKS)

    async def stored(digest: str) -> str | None:
        async with limit:
            return digest if await store.blob_size(Digest(digest)) is not None else None

    digests = sorted({layer.blob for layer in config.layers})
    present = {d for d in await asyncio.gather(*(stored(d) for d in digests)) if d is not None}
    layout = getattr(store, "layout", None) if has_object_listing(store) else None
    return missing_blobs(config, present, layout.blob_key if layout is not None else str)

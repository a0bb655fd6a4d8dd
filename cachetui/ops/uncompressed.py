"""Uncompressed sizes of layers: stream each blob once, decompress, count; memoised by digest."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from cachetui.errors import FormatError
from cachetui.oci.mediatypes import layer_compression
from cachetui.oci.models import Descriptor
from cachetui.ops.codecs import decoder_for
from cachetui.ops.progress import CancelToken
from cachetui.store.base import Store


class UncompressedSizes:
    """Digest → (uncompressed size, diffID), optionally persisted as JSON between runs."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._known: dict[str, tuple[int, str]] = {}
        if path is not None and path.is_file():
            try:
                loaded = json.loads(path.read_text())
                self._known = {k: (int(v[0]), str(v[1])) for k, v in loaded.items()}
            except (ValueError, TypeError, IndexError, OSError):
                self._known = {}

    def get(self, digest: str) -> int | None:
        known = self._known.get(digest)
        return None if known is None else known[0]

    def sizes(self) -> dict[str, int]:
        return {digest: value[0] for digest, value in self._known.items()}

    def put(self, digest: str, size: int, diff_id: str) -> None:
        self._known[digest] = (size, diff_id)

    def save(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps({k: list(v) for k, v in self._known.items()}))
        os.replace(tmp, self._path)


async def measure(store: Store, descriptor: Descriptor,
                  cancel: CancelToken | None = None) -> tuple[int, str]:
    """(uncompressed size, sha256 of the uncompressed bytes) of one layer blob."""
    try:
        decoder = decoder_for(layer_compression(descriptor.media_type))
    except KeyError:
        raise FormatError(f"not a layer media type: {descriptor.media_type}") from None
    hasher = hashlib.sha256()
    total = 0
    async for chunk in store.open_blob(descriptor):
        if cancel is not None:
            cancel.check()
        plain = await asyncio.to_thread(decoder.feed, chunk)
        total += len(plain)
        await asyncio.to_thread(hasher.update, plain)
    tail = decoder.finish()
    total += len(tail)
    hasher.update(tail)
    return total, f"sha256:{hasher.hexdigest()}"


async def fill(store: Store, layers: Iterable[Descriptor], memo: UncompressedSizes, *,
               concurrency: int = 4, cancel: CancelToken | None = None) -> None:
    """Measure every layer not yet in ``memo``, a few at a time."""
    limit = asyncio.Semaphore(concurrency)
    pending = {layer.digest: layer for layer in layers if memo.get(layer.digest) is None}

    async def one(layer: Descriptor) -> None:
        async with limit:
            size, diff_id = await measure(store, layer, cancel)
            memo.put(layer.digest, size, diff_id)

    async with asyncio.TaskGroup() as group:
        for layer in pending.values():
            group.create_task(one(layer))

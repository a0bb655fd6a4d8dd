"""Uncompressed sizes of layers: stream each blob once, decompress, count; memoised by digest."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from cachetui.errors import FormatError
from cachetui.oci.mediatypes import layer_compression
from cachetui.oci.models import Descriptor
from cachetui.ops.blobthread import run_on_blob
from cachetui.ops.codecs import ChunkReader, digest_plain
from cachetui.ops.progress import CancelToken
from cachetui.ops.transfer import run_all
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
    """(uncompressed size, sha256 of the uncompressed bytes) of one layer blob.

    Decoded in a codec thread through the bounded pipeline: memory stays flat whatever the
    compression ratio."""
    try:
        compression = layer_compression(descriptor.media_type)
    except KeyError:
        raise FormatError(f"not a layer media type: {descriptor.media_type}") from None

    def work(reader: ChunkReader, stop: threading.Event) -> tuple[int, str]:
        return digest_plain(reader, compression, stop)

    return await run_on_blob(store, descriptor, work, cancel=cancel)


async def fill(store: Store, layers: Iterable[Descriptor], memo: UncompressedSizes, *,
               concurrency: int = 4, cancel: CancelToken | None = None) -> None:
    """Measure every layer not yet in ``memo``, a few at a time."""
    limit = asyncio.Semaphore(concurrency)
    pending = {layer.digest: layer for layer in layers if memo.get(layer.digest) is None}

    async def one(layer: Descriptor) -> None:
        async with limit:
            size, diff_id = await measure(store, layer, cancel)
            memo.put(layer.digest, size, diff_id)

    await run_all(one(layer) for layer in pending.values())  # the first error, not a group

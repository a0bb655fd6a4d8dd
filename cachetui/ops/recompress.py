"""Re-encode one layer blob as a stream: decompress, compress, hash, in bounded chunks.

One layer runs in two threads: a worker of :mod:`cachetui.ops.blobthread` decodes and hashes the
plain bytes, a second one (:mod:`cachetui.ops.handoff`) encodes, checks, hashes and writes them
(ISA-L, zlib, zstd and hashlib release the GIL, so even the last layer uses two cores). Decoding
goes through the one bounded pipeline of :mod:`cachetui.ops.codecs`, so memory does not grow with
layer size, not even for layers that decompress 1000:1. The output goes to a temp file while it
is hashed (its digest is only known at the end) and, as it is produced, is decoded again and
compared with the input.

Determinism: the same input and settings give the same bytes. The plain stream is fed to the
encoder in fixed 1 MiB blocks, whatever chunks the source delivered; gzip is a raw gzip wrapper
(header mtime 0, no file name, fixed level; ISA-L at levels 1-3 when installed, zlib otherwise,
so the bytes depend on which library encoded them); zstd is single-threaded (``threads=0``:
zstd's multithreaded mode may split jobs differently), fixed level, no checksum, no content size.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from cachetui.errors import Cancelled, FormatError, TooLarge
from cachetui.oci import mediatypes as mt
from cachetui.oci.digest import Digest
from cachetui.oci.mediatypes import Compression
from cachetui.oci.models import Descriptor
from cachetui.ops.blobthread import run_on_blob
from cachetui.ops.codecs import ChunkReader, RoundTrip, encoder_for, fixed_blocks, plain_stream
from cachetui.ops.handoff import Handoff, pipelined
from cachetui.ops.progress import CancelToken
from cachetui.store.base import CHUNK_SIZE, StagedBlob, Store

DEFAULT_LEVELS: Final = {Compression.GZIP: 6, Compression.ZSTD: 3, Compression.UNCOMPRESSED: 0}
"""zlib's and zstd's defaults, which are also BuildKit's (Go gzip default, klauspost default)."""
LEVEL_RANGES: Final = {Compression.GZIP: (0, 9), Compression.ZSTD: (1, 22)}


@dataclass(frozen=True, slots=True)
class Encoding:
    """A target encoding: compression and level."""

    compression: Compression
    level: int

    @classmethod
    def of(cls, compression: Compression, level: int | None = None) -> Encoding:
        from cachetui.errors import InvalidInput

        if level is None:
            level = DEFAULT_LEVELS[compression]
        bounds = LEVEL_RANGES.get(compression)
        if bounds is not None and not bounds[0] <= level <= bounds[1]:
            raise InvalidInput(f"{compression} level must be {bounds[0]}..{bounds[1]}, got {level}")
        return cls(compression, level if bounds is not None else 0)

    def __str__(self) -> str:
        if self.compression is Compression.UNCOMPRESSED:
            return "uncompressed"
        return f"{self.compression}-{self.level}"


@dataclass(frozen=True, slots=True)
class EncodedLayer:
    """A re-encoded blob waiting in a temp file, with what the manifest needs to know."""

    source: Descriptor
    path: Path
    digest: Digest
    size: int
    diff_id: str
    uncompressed_size: int
    media_type: str
    """In OCI naming; the rewrite converts it to the cache's naming."""
    staged: StagedBlob | None = None
    """The output written straight into the destination (``path`` is then that temp file):
    :meth:`StagedBlob.commit` stores it without copying."""

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(media_type=self.media_type, digest=str(self.digest), size=self.size,
                          annotations={mt.ANNOTATION_UNCOMPRESSED: self.diff_id})

    def discard(self) -> None:
        """Remove the output (blocking; safe after it was stored)."""
        if self.staged is not None:
            self.staged.discard()
        else:
            self.path.unlink(missing_ok=True)


class OutputLimitExceeded(TooLarge):
    """A re-encoded layer grew past the temp-space bound it was given (see reexport)."""


def encode_sync(reader: ChunkReader, source: Compression, target: Encoding, out: BinaryIO,
                stop: threading.Event, *, max_output: int | None = None,
                round_trip: bool = True) -> tuple[Digest, int, str, int]:
    """Run in a worker thread: (blob digest, blob size, diffID, uncompressed size).

    Two threads share the work (:func:`~cachetui.ops.handoff.pipelined`): this one reads,
    decodes and hashes the plain bytes (the diffID); a second encodes them, checks the output
    and hashes and writes it. The encoder sees the same blocks in the same order either way.
    ``max_output`` bounds the bytes written to ``out`` (:class:`OutputLimitExceeded` past it).
    ``round_trip`` decodes the output as it is produced and compares it with the plain bytes
    (:class:`~cachetui.ops.codecs.RoundTrip`): re-export's verification without a second pass.
    """
    same = target.compression is Compression.UNCOMPRESSED  # the blob is the plain bytes:
    # hashed once, here, and both digests are that hash

    def decode(handoff: Handoff[bytes]) -> tuple[str, int]:
        diff_hash = hashlib.sha256()
        plain_size = 0
        for block in fixed_blocks(plain_stream(reader, source)):
            if stop.is_set():
                raise Cancelled("cancelled")
            handoff.put(block)
            diff_hash.update(block)
            plain_size += len(block)
        return f"sha256:{diff_hash.hexdigest()}", plain_size

    def encode(blocks: Iterator[bytes]) -> tuple[str | None, int]:
        blob_hash = None if same else hashlib.sha256()
        encoder = encoder_for(target.compression, target.level)
        check = RoundTrip(target.compression) if round_trip else None
        written = 0

        def emit(data: bytes) -> None:
            nonlocal written
            if data:
                written += len(data)
                if max_output is not None and written > max_output:
                    raise OutputLimitExceeded(f"re-encoded output passed {max_output} bytes")
                if check is not None:
                    check.encoded(data)
                if blob_hash is not None:
                    blob_hash.update(data)
                out.write(data)

        for block in blocks:
            if check is not None:
                check.plain(block)
            emit(encoder.compress(block))
        emit(encoder.flush())
        if check is not None:
            check.finish()
        out.flush()  # no fsync: a temp file; the destination makes its own copy durable
        return (None if blob_hash is None else f"sha256:{blob_hash.hexdigest()}"), written

    (diff_id, plain_size), (blob_digest, written) = pipelined(decode, encode,
                                                              name="cachetui-encode")
    return Digest(blob_digest or diff_id), written, diff_id, plain_size


async def recompress_layer(
    store: Store,
    descriptor: Descriptor,
    target: Encoding,
    workdir: Path,
    *,
    cancel: CancelToken | None = None,
    on_bytes: Callable[[int], None] | None = None,
    max_output: int | None = None,
    round_trip: bool = True,
    stage: Callable[[], StagedBlob] | None = None,
) -> EncodedLayer:
    """Re-encode one layer of ``store`` into a temp file under ``workdir``, or, with ``stage``,
    straight into the destination's own temp file (:class:`~cachetui.store.base.StagesBlobs`).

    The caller owns the result: it deletes :attr:`EncodedLayer.path` after uploading, or
    commits / discards :attr:`EncodedLayer.staged`. ``on_bytes`` is called on the event loop
    with the source bytes read so far; ``max_output`` bounds the output (removed when passed).
    """
    try:
        source = mt.layer_compression(descriptor.media_type)
    except KeyError:
        raise FormatError(f"not a layer media type: {descriptor.media_type}",
                          where=f"blob {descriptor.digest[7:19]}") from None
    staged: StagedBlob | None = None
    if stage is not None:
        staged = await asyncio.to_thread(stage)
        handle = staged.file
    else:
        path = workdir / f"layer-{descriptor.digest[7:23]}-{os.getpid()}-{next(_SERIAL)}.tmp"
        handle = await asyncio.to_thread(_create, path)

    def work(reader: ChunkReader, stop: threading.Event) -> tuple[Digest, int, str, int]:
        return encode_sync(reader, source, target, handle, stop, max_output=max_output,
                           round_trip=round_trip)

    try:
        try:
            digest, size, diff_id, plain = await run_on_blob(store, descriptor, work,
                                                             cancel=cancel, on_bytes=on_bytes)
        finally:
            if staged is None:
                handle.close()
    except BaseException:
        if staged is not None:
            await asyncio.to_thread(staged.discard)
        else:
            path.unlink(missing_ok=True)
        raise
    media_type = mt.layer_media_type(target.compression, oci=True,
                                     nondistributable=mt.is_nondistributable(descriptor.media_type))
    if staged is not None:
        path = staged.path
    return EncodedLayer(descriptor, path, digest, size, diff_id, plain, media_type, staged)


_SERIAL = itertools.count()


def _create(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "wb")


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """Stream a local file in CHUNK_SIZE pieces (to upload a re-encoded blob)."""
    handle = await asyncio.to_thread(open, path, "rb")
    try:
        while True:
            chunk = await asyncio.to_thread(handle.read, CHUNK_SIZE)
            if not chunk:
                return
            yield chunk
    finally:
        handle.close()

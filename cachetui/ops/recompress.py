"""Re-encode one layer blob as a stream: decompress, compress, hash, in bounded chunks.

One layer runs in one worker thread (zlib, zstd and hashlib release the GIL, so layers in
parallel use every core); the async source stream is bridged into that thread one chunk at a
time, so memory does not grow with layer size, not even for layers that decompress 1000:1
(decompression output is bounded too). The output goes to a temp file while it is hashed: its
digest is only known at the end.

Determinism: the same input and settings give the same bytes. The plain stream is fed to the
encoder in fixed 1 MiB blocks, whatever chunks the source delivered; gzip is zlib's raw gzip
wrapper (header mtime 0, no file name, fixed level); zstd is single-threaded (``threads=0``:
zstd's multithreaded mode may split jobs differently), fixed level, no checksum, no content size.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import queue
import threading
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, Protocol

import zstandard

from cachetui.errors import Cancelled, FormatError
from cachetui.oci import mediatypes as mt
from cachetui.oci.digest import Digest
from cachetui.oci.mediatypes import Compression
from cachetui.oci.models import Descriptor
from cachetui.ops.progress import CancelToken
from cachetui.store.base import CHUNK_SIZE, Store

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

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(media_type=self.media_type, digest=str(self.digest), size=self.size,
                          annotations={mt.ANNOTATION_UNCOMPRESSED: self.diff_id})


class _Reader(Protocol):
    def read_chunk(self) -> bytes: ...


READ_AHEAD: Final = 4
"""Source chunks fetched ahead of the codec thread (bounded memory: 4 MiB per layer)."""


class _Bridge:
    """A blocking chunk reader (for a worker thread) over an async chunk iterator on ``loop``.

    A pump task on the loop reads up to :data:`READ_AHEAD` chunks ahead into a thread-safe
    queue, so the codec thread does not idle for a loop round trip (and a file read) per chunk.
    """

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


class _FileLike:
    """``read(n)`` for zstandard's stream reader, on top of a chunk reader."""

    def __init__(self, reader: _Reader) -> None:
        self._reader = reader
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        if not self._buffer:
            self._buffer = self._reader.read_chunk()
        if size < 0 or size >= len(self._buffer):
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


def _plain_gzip(reader: _Reader) -> Iterator[bytes]:
    """gunzip member after member (estargz, pigz), never more than CHUNK_SIZE out per step."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    between = False
    try:
        while True:
            data = reader.read_chunk()
            if not data:
                break
            while data:
                if between:
                    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    between = False
                out = inflater.decompress(data, CHUNK_SIZE)
                if out:
                    yield out
                if inflater.eof:
                    data = inflater.unused_data
                    between = True
                elif inflater.unconsumed_tail:
                    data = inflater.unconsumed_tail
                elif len(out) == CHUNK_SIZE:
                    data = b""
                    while True:  # output still pending inside zlib
                        more = inflater.decompress(b"", CHUNK_SIZE)
                        if more:
                            yield more
                        if len(more) < CHUNK_SIZE:
                            break
                    if inflater.eof:
                        data, between = inflater.unused_data, True
                else:
                    data = b""
    except zlib.error as exc:
        raise FormatError(f"corrupt gzip stream: {exc}") from None
    if not between:
        raise FormatError("gzip stream is truncated")


def _plain_zstd(reader: _Reader) -> Iterator[bytes]:
    source = zstandard.ZstdDecompressor().stream_reader(
        _FileLike(reader),  # type: ignore[arg-type]  # duck-typed: only read() is used
        read_size=CHUNK_SIZE, read_across_frames=True)
    try:
        while True:
            out = source.read(CHUNK_SIZE)
            if not out:
                return
            yield out
    except zstandard.ZstdError as exc:
        raise FormatError(f"corrupt zstd stream: {exc}") from None


def _plain_identity(reader: _Reader) -> Iterator[bytes]:
    while True:
        chunk = reader.read_chunk()
        if not chunk:
            return
        yield chunk


def plain_stream(reader: _Reader, compression: Compression) -> Iterator[bytes]:
    if compression is Compression.GZIP:
        return _plain_gzip(reader)
    if compression is Compression.ZSTD:
        return _plain_zstd(reader)
    return _plain_identity(reader)


def _fixed_blocks(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Re-cut a stream into exact CHUNK_SIZE blocks (the last may be shorter)."""
    pending = bytearray()
    for chunk in chunks:
        if not pending and len(chunk) == CHUNK_SIZE:
            yield chunk  # the common case: no copy
            continue
        pending += chunk
        while len(pending) >= CHUNK_SIZE:
            yield bytes(pending[:CHUNK_SIZE])
            del pending[:CHUNK_SIZE]
    if pending:
        yield bytes(pending)


class _Encoder(Protocol):
    def compress(self, data: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


class _Identity:
    def compress(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


def encoder_for(encoding: Encoding) -> _Encoder:
    if encoding.compression is Compression.GZIP:
        return zlib.compressobj(encoding.level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    if encoding.compression is Compression.ZSTD:
        params = zstandard.ZstdCompressor(level=encoding.level, threads=0, write_checksum=False,
                                          write_content_size=False)
        encoder: _Encoder = params.compressobj()
        return encoder
    return _Identity()


def encode_sync(reader: _Reader, source: Compression, target: Encoding, out: BinaryIO,
                stop: threading.Event) -> tuple[Digest, int, str, int]:
    """Run in a worker thread: (blob digest, blob size, diffID, uncompressed size)."""
    blob_hash = hashlib.sha256()
    diff_hash = hashlib.sha256()
    encoder = encoder_for(target)
    written = 0
    plain_size = 0

    def emit(data: bytes) -> None:
        nonlocal written
        if data:
            blob_hash.update(data)
            out.write(data)
            written += len(data)

    for block in _fixed_blocks(plain_stream(reader, source)):
        if stop.is_set():
            raise Cancelled("cancelled")
        diff_hash.update(block)
        plain_size += len(block)
        emit(encoder.compress(block))
    emit(encoder.flush())
    out.flush()
    os.fsync(out.fileno())
    return (Digest(f"sha256:{blob_hash.hexdigest()}"), written,
            f"sha256:{diff_hash.hexdigest()}", plain_size)


_EXECUTOR: ThreadPoolExecutor | None = None


def cpu_executor() -> ThreadPoolExecutor:
    """One pool for CPU-bound layer work, as wide as the machine."""
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = ThreadPoolExecutor(max_workers=os.cpu_count() or 2,
                                       thread_name_prefix="cachetui-codec")
    return _EXECUTOR


async def recompress_layer(
    store: Store,
    descriptor: Descriptor,
    target: Encoding,
    workdir: Path,
    *,
    cancel: CancelToken | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> EncodedLayer:
    """Re-encode one layer of ``store`` into a temp file under ``workdir``.

    The caller owns the file (:attr:`EncodedLayer.path`) and deletes it after uploading.
    ``on_bytes`` is called on the event loop with the source bytes read so far.
    """
    try:
        source = mt.layer_compression(descriptor.media_type)
    except KeyError:
        raise FormatError(f"not a layer media type: {descriptor.media_type}",
                          where=f"blob {descriptor.digest[7:19]}") from None
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

    chunks = counted()
    bridge = _Bridge(chunks, loop, stop)
    path = workdir / f"layer-{descriptor.digest[7:23]}-{os.getpid()}-{id(bridge):x}.tmp"
    handle = await asyncio.to_thread(_create, path)
    future = cpu_executor().submit(encode_sync, bridge, source, target, handle, stop)
    try:
        try:
            digest, size, diff_id, plain = await asyncio.wrap_future(future)
        finally:
            stop.set()
            if not future.done():
                # The worker may be waiting for one more chunk from this loop: let it see stop.
                with contextlib.suppress(BaseException):
                    await asyncio.wrap_future(future)
            handle.close()
            await bridge.aclose()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    media_type = mt.layer_media_type(target.compression, oci=True,
                                     nondistributable=mt.is_nondistributable(descriptor.media_type))
    return EncodedLayer(descriptor, path, digest, size, diff_id, plain, media_type)


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

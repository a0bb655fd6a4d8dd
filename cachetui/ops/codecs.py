"""The one bounded decoding pipeline for layer blobs, and the encoders re-export writes with.

Every path that decompresses a layer (re-encode, re-export's verify, measuring uncompressed sizes,
the TUI's ``u``) reads its plain bytes through :func:`plain_stream`, which never hands out more
than ``CHUNK_SIZE`` bytes per step whatever the compression ratio: a 2 MB gzip layer that inflates
to 2 GiB costs a few MiB, not 2 GiB. The functions here are synchronous and run in a worker
thread (:mod:`cachetui.ops.blobthread`): ISA-L, zlib, zstandard and hashlib release the GIL, so
layers in parallel use every core.

gzip is decoded with ISA-L (``isal``: igzip inflates about 2.5x faster than zlib) when it is
installed, with zlib as the fallback; both inflate member after member (estargz and pigz write
several members). zstd is decoded frame after frame with a bounded window (128 MiB, zstd's own
default limit).
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any, Final, Protocol, cast

import zstandard

from cachetui.errors import Cancelled, FormatError
from cachetui.oci.mediatypes import Compression
from cachetui.ops.handoff import Handoff, pipelined
from cachetui.store.base import CHUNK_SIZE

_isal_zlib: ModuleType | None
try:  # ISA-L: the fast path for gzip; zlib when the wheel is not available for this platform
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover - exercised on platforms without an isal wheel
    _isal_zlib = None

GZIP_BACKEND: Final = "isa-l" if _isal_zlib is not None else "zlib"
"""Which library inflates gzip here (benchmarks print it)."""

ZSTD_MAX_WINDOW: Final = 1 << 27
"""Largest zstd window accepted (128 MiB, zstd's default limit): a frame may not demand more."""

_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS
_GZIP_ERRORS: tuple[type[Exception], ...] = (
    (zlib.error,) if _isal_zlib is None else (zlib.error, cast(type[Exception], _isal_zlib.error)))
_DECODE_ERRORS: tuple[type[Exception], ...] = (*_GZIP_ERRORS, zstandard.ZstdError)


class ChunkReader(Protocol):
    """Blocking source of a blob's bytes: ``b""`` once the blob has ended."""

    def read_chunk(self) -> bytes: ...


class IterReader:
    """A :class:`ChunkReader` over an iterable of byte chunks (tests, in-memory blobs)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)

    def read_chunk(self) -> bytes:
        for chunk in self._chunks:
            if chunk:
                return chunk
        return b""


def _inflater() -> Any:
    """A gzip decompressobj (ISA-L or zlib: the same API)."""
    if _isal_zlib is not None:
        return _isal_zlib.decompressobj(_GZIP_WBITS)
    return zlib.decompressobj(_GZIP_WBITS)


def _plain_gzip(reader: ChunkReader) -> Iterator[bytes]:
    """gunzip member after member, never more than CHUNK_SIZE out per step."""
    inflater = _inflater()
    between = False
    try:
        while True:
            data = reader.read_chunk()
            if not data:
                break
            while data:
                if between:
                    inflater = _inflater()
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
                    while True:  # output still pending inside the inflater
                        more = inflater.decompress(b"", CHUNK_SIZE)
                        if more:
                            yield more
                        if len(more) < CHUNK_SIZE:
                            break
                    if inflater.eof:
                        data, between = inflater.unused_data, True
                else:
                    data = b""
    except _GZIP_ERRORS as exc:
        raise FormatError(f"corrupt gzip stream: {exc}") from None
    if not between:
        raise FormatError("gzip stream is truncated")


class _ZstdFrames:
    """Walks zstd frame and block headers over the compressed bytes as they pass, to tell a
    stream that ends between frames from one cut inside a frame (zstandard's stream reader
    returns what it has either way). Costs a few header reads per 128 KiB block."""

    _MAGIC: Final = 0xFD2FB528

    def __init__(self) -> None:
        self._header = bytearray()
        self._need = 4  # bytes of the next header to collect
        self._state = "magic"
        self._skip = 0  # content bytes to pass over
        self._checksum = False
        self.frames = 0

    @property
    def at_boundary(self) -> bool:
        return self._state == "magic" and not self._header and not self._skip

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._skip:
                n = min(self._skip, len(view))
                self._skip -= n
                view = view[n:]
                continue
            n = min(self._need - len(self._header), len(view))
            self._header += view[:n]
            view = view[n:]
            if len(self._header) == self._need:
                self._advance(bytes(self._header))

    def _advance(self, header: bytes) -> None:
        self._header.clear()
        if self._state == "magic":
            magic = int.from_bytes(header[:4], "little")
            if magic & 0xFFFFFFF0 == 0x184D2A50:
                self._state, self._need = "skippable", 4
            elif magic == self._MAGIC:
                self._state, self._need = "descriptor", 1
            else:
                raise FormatError("corrupt zstd stream: unknown frame magic")
        elif self._state == "skippable":
            self._skip = int.from_bytes(header, "little")
            self._state, self._need = "magic", 4
            self.frames += 1
        elif self._state == "descriptor":
            fhd = header[0]
            fcs_flag, single, dict_flag = fhd >> 6, (fhd >> 5) & 1, fhd & 3
            self._checksum = bool((fhd >> 2) & 1)
            fcs = (1 if single else 0, 2, 4, 8)[fcs_flag]
            rest = (0 if single else 1) + (0, 1, 2, 4)[dict_flag] + fcs
            self._state, self._need = "block", 3
            if rest:
                self._state, self._need = "frame-rest", rest
        elif self._state == "frame-rest":
            self._state, self._need = "block", 3
        elif self._state == "block":
            value = int.from_bytes(header, "little")
            last, kind, size = value & 1, (value >> 1) & 3, value >> 3
            if kind == 3:
                raise FormatError("corrupt zstd stream: reserved block type")
            self._skip = 1 if kind == 1 else size
            if last:
                self.frames += 1
                self._state, self._need = ("checksum", 4) if self._checksum else ("magic", 4)
        elif self._state == "checksum":
            self._state, self._need = "magic", 4


class _FileLike:
    """``read(n)`` for zstandard's stream reader, on top of a chunk reader; it watches the frame
    structure of what it hands over."""

    def __init__(self, reader: ChunkReader) -> None:
        self._reader = reader
        self._buffer = b""
        self.frames = _ZstdFrames()

    def read(self, size: int = -1) -> bytes:
        if not self._buffer:
            self._buffer = self._reader.read_chunk()
        if size < 0 or size >= len(self._buffer):
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        self.frames.feed(out)
        return out


def _plain_zstd(reader: ChunkReader) -> Iterator[bytes]:
    source = _FileLike(reader)
    stream = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW).stream_reader(
        source,  # type: ignore[arg-type]  # duck-typed: only read() is used
        read_size=CHUNK_SIZE, read_across_frames=True)
    try:
        while True:
            out = stream.read(CHUNK_SIZE)
            if not out:
                break
            yield out
    except zstandard.ZstdError as exc:
        raise FormatError(f"corrupt zstd stream: {exc}") from None
    if not source.frames.frames or not source.frames.at_boundary:
        raise FormatError("zstd stream is truncated")


def _plain_identity(reader: ChunkReader) -> Iterator[bytes]:
    while True:
        chunk = reader.read_chunk()
        if not chunk:
            return
        yield chunk


def plain_stream(reader: ChunkReader, compression: Compression) -> Iterator[bytes]:
    """The decompressed bytes of a blob, in pieces of at most CHUNK_SIZE (bounded memory)."""
    if compression is Compression.GZIP:
        return _plain_gzip(reader)
    if compression is Compression.ZSTD:
        return _plain_zstd(reader)
    return _plain_identity(reader)


def fixed_blocks(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Re-cut a stream into exact CHUNK_SIZE blocks (the last may be shorter).

    A chunk that is a block already passes as it is; a block made of pieces is joined once from
    views of them (each byte copied at most once: a bytearray filled and sliced copied each byte
    three times, about 0.13 CPU s over the 400 MiB of the re-export bench)."""
    parts: list[bytes | memoryview] = []
    have = 0
    for chunk in chunks:
        start = 0
        while len(chunk) - start >= CHUNK_SIZE - have:
            end = start + CHUNK_SIZE - have
            if not parts and start == 0 and end == len(chunk):
                yield chunk  # the common case: no copy
            else:
                parts.append(memoryview(chunk)[start:end])
                yield b"".join(parts)
                parts = []
            have, start = 0, end
        if start < len(chunk):
            parts.append(memoryview(chunk)[start:] if start else chunk)
            have += len(chunk) - start
    if parts:
        yield b"".join(parts)


def digest_plain(reader: ChunkReader, compression: Compression,
                 stop: threading.Event | None = None) -> tuple[int, str]:
    """(uncompressed size, diffID) of a blob: decode and hash, nothing kept.

    A compressed blob is decoded in this thread and hashed in a second one
    (:func:`~cachetui.ops.handoff.pipelined`): the two cost about the same, so one layer uses
    two cores and the last layer of a verify does not run on one."""

    def decode(handoff: Handoff[bytes] | None) -> int:
        total = 0
        for piece in plain_stream(reader, compression):
            if stop is not None and stop.is_set():
                raise Cancelled("cancelled")
            if handoff is None:
                hasher.update(piece)
            else:
                handoff.put(piece)
            total += len(piece)
        return total

    def digest(pieces: Iterator[bytes]) -> None:
        for piece in pieces:
            hasher.update(piece)

    hasher = hashlib.sha256()
    if compression is Compression.UNCOMPRESSED:  # nothing to decode: no second thread
        total = decode(None)
    else:
        total, _ = pipelined(decode, digest, name="cachetui-hash")
    return total, f"sha256:{hasher.hexdigest()}"


# ---- encoders ---------------------------------------------------------------------------------

class Encoder(Protocol):
    def compress(self, data: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


class _IdentityEncoder:
    def compress(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


ISAL_GZIP_LEVELS: Final = frozenset({1, 2, 3})
"""gzip levels encoded with ISA-L when it is installed: its levels 1-3 compress about as well as
zlib's 1-3 (within 2% on layer data) at 4-6x the speed. Other levels use zlib."""


def gzip_encoder_backend(level: int) -> str:
    return "isa-l" if _isal_zlib is not None and level in ISAL_GZIP_LEVELS else "zlib"


def encoder_for(compression: Compression, level: int) -> Encoder:
    """A deterministic encoder (same library and version, same bytes): a gzip wrapper with mtime
    0 and no name (ISA-L for levels 1-3 when installed, zlib otherwise); single-threaded zstd
    without checksum or content size."""
    if compression is Compression.GZIP:
        if gzip_encoder_backend(level) == "isa-l":
            assert _isal_zlib is not None
            encoder: Encoder = _isal_zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
            return encoder
        return zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
    if compression is Compression.ZSTD:
        params = zstandard.ZstdCompressor(level=level, threads=0, write_checksum=False,
                                          write_content_size=False)
        zstd_encoder: Encoder = params.compressobj()
        return zstd_encoder
    return _IdentityEncoder()


class RoundTrip:
    """Checks, while encoding, that the encoder's output decodes to exactly the plain bytes fed.

    This is re-export's verification of a re-encoded layer: the blob digest is computed over the
    same output bytes, and the destination verifies that digest when it stores them, so "the blob
    with this digest decodes to this diffID" holds without reading the output a second time.
    Comparing bytes (memcmp) instead of hashing them again keeps it cheap. Memory: the plain bytes
    the encoder has not emitted yet (its internal buffer, a few MiB at most).
    """

    def __init__(self, compression: Compression) -> None:
        self._compression = compression
        self._decoder: Any = None
        if compression is Compression.GZIP:
            self._decoder = _inflater()
        elif compression is Compression.ZSTD:
            self._decoder = zstandard.ZstdDecompressor(
                max_window_size=ZSTD_MAX_WINDOW).decompressobj()
        self._pending: deque[memoryview] = deque()  # the blocks themselves, never copied
        self._pending_size = 0

    def plain(self, block: bytes) -> None:
        """A plain block handed to the encoder."""
        if self._decoder is not None:
            self._pending.append(memoryview(block))
            self._pending_size += len(block)

    def encoded(self, data: bytes) -> None:
        """Bytes the encoder emitted (and that are written)."""
        if self._decoder is None or not data:
            return
        try:
            if self._compression is Compression.GZIP:
                while data:
                    out = self._decoder.decompress(data, CHUNK_SIZE)
                    self._match(out)
                    data = self._decoder.unconsumed_tail
                    if not data and len(out) == CHUNK_SIZE:
                        while True:
                            more = self._decoder.decompress(b"", CHUNK_SIZE)
                            self._match(more)
                            if len(more) < CHUNK_SIZE:
                                break
            else:
                self._match(self._decoder.decompress(data))
        except _DECODE_ERRORS as exc:
            raise FormatError(f"re-encoded output does not decode: {exc}") from None

    def _match(self, out: bytes) -> None:
        if not out:
            return
        if len(out) > self._pending_size:
            raise FormatError("re-encoded output decodes to more bytes than were encoded")
        self._pending_size -= len(out)
        position = 0
        while position < len(out):
            head = self._pending[0]
            count = min(len(head), len(out) - position)
            if not out.startswith(head[:count], position):  # memcmp, no copy
                raise FormatError("re-encoded output does not decode to the original bytes")
            position += count
            if count == len(head):
                self._pending.popleft()
            else:
                self._pending[0] = head[count:]

    def finish(self) -> None:
        """After the encoder's flush: every plain byte must have come back."""
        if self._decoder is None:
            return
        if self._pending_size:
            raise FormatError(f"re-encoded output is missing {self._pending_size} bytes")
        if self._compression is Compression.GZIP and not self._decoder.eof:
            raise FormatError("re-encoded gzip output is truncated")

"""Streaming decoders for layer blobs (gzip, including multi-member and estargz; zstd; tar).

One decoder per blob, fed chunk by chunk, so memory stays flat whatever the layer size. zlib and
zstandard release the GIL, so callers run ``feed`` in worker threads to use every core.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import zstandard

from cachetui.errors import FormatError
from cachetui.oci.mediatypes import Compression


class Decoder(Protocol):
    def feed(self, chunk: bytes) -> bytes: ...

    def finish(self) -> bytes:
        """Flush; raise :class:`FormatError` if the stream ended in the middle."""
        ...


class _Identity:
    def feed(self, chunk: bytes) -> bytes:
        return chunk

    def finish(self) -> bytes:
        return b""


class _Gzip:
    """gzip, member after member (estargz and pigz write several members)."""

    def __init__(self) -> None:
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._between_members = False

    def feed(self, chunk: bytes) -> bytes:
        out = []
        data = chunk
        try:
            while data:
                if self._between_members:
                    self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    self._between_members = False
                out.append(self._inflater.decompress(data))
                if self._inflater.eof:
                    data = self._inflater.unused_data
                    self._between_members = True
                else:
                    data = b""
        except zlib.error as exc:
            raise FormatError(f"corrupt gzip stream: {exc}") from None
        return b"".join(out)

    def finish(self) -> bytes:
        if not self._between_members:
            raise FormatError("gzip stream is truncated")
        return b""


class _Zstd:
    """zstd, frame after frame."""

    def __init__(self) -> None:
        self._context = zstandard.ZstdDecompressor()
        self._decoder = self._context.decompressobj()
        self._between_frames = False

    def feed(self, chunk: bytes) -> bytes:
        out = []
        data = chunk
        try:
            while data:
                if self._between_frames:
                    self._decoder = self._context.decompressobj()
                    self._between_frames = False
                out.append(self._decoder.decompress(data))
                if self._decoder.eof:
                    data = self._decoder.unused_data
                    self._between_frames = True
                else:
                    data = b""
        except zstandard.ZstdError as exc:
            raise FormatError(f"corrupt zstd stream: {exc}") from None
        return b"".join(out)

    def finish(self) -> bytes:
        if not self._between_frames:
            raise FormatError("zstd stream is truncated")
        return b""


def decoder_for(compression: Compression) -> Decoder:
    if compression is Compression.GZIP:
        return _Gzip()
    if compression is Compression.ZSTD:
        return _Zstd()
    return _Identity()

"""Deterministic layer content: a tar stream built from a seed, encoded as BuildKit would.

Layers are generated in chunks and written straight to a file while both digests (blob and
diffID) are computed, so a 500 MB layer costs no more memory than a 5 KB one.
"""

from __future__ import annotations

import hashlib
import os
import random
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import zstandard

from cachetui.oci.mediatypes import Compression

_CHUNK = 1024 * 1024
_TEXT = (
    b"000000 buildkit cache layer line with some repeating words so that it compresses well "
    b"3a124c64\n"
)


def tar_stream(seed: int, size: int, compressibility: float, name: str) -> Iterator[bytes]:
    """A one-file tar archive of ``size`` content bytes, part random and part text."""
    info = tarfile.TarInfo(name=name)
    info.size = size
    info.mtime = 1_700_000_000
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    yield info.tobuf(format=tarfile.PAX_FORMAT)
    rng = random.Random(seed)
    remaining = size
    text_block = _TEXT * (_CHUNK // len(_TEXT) + 1)
    while remaining > 0:
        n = min(_CHUNK, remaining)
        text_part = int(n * compressibility)
        yield text_block[:text_part] + rng.randbytes(n - text_part)
        remaining -= n
    padding = (-size) % 512
    yield b"\0" * padding + b"\0" * 1024


class _Encoder:
    def __init__(self, compression: Compression, level: int | None) -> None:
        self.compression = compression
        if compression is Compression.GZIP:
            # A gzip header with mtime 0 and no file name: same bytes every time.
            self._z = zlib.compressobj(level if level is not None else 6, zlib.DEFLATED, -15)
            self._crc = 0
            self._size = 0
            self._header_sent = False
        elif compression is Compression.ZSTD:
            self._zstd = zstandard.ZstdCompressor(level=level if level is not None else 3).compressobj()

    def feed(self, data: bytes) -> bytes:
        if self.compression is Compression.GZIP:
            self._crc = zlib.crc32(data, self._crc)
            self._size += len(data)
            head = b""
            if not self._header_sent:
                head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
                self._header_sent = True
            return head + self._z.compress(data)
        if self.compression is Compression.ZSTD:
            return self._zstd.compress(data)
        return data

    def finish(self) -> bytes:
        if self.compression is Compression.GZIP:
            head = b"" if self._header_sent else b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
            trailer = (self._crc & 0xFFFFFFFF).to_bytes(4, "little") + (
                self._size & 0xFFFFFFFF
            ).to_bytes(4, "little")
            return head + self._z.flush() + trailer
        if self.compression is Compression.ZSTD:
            return self._zstd.flush()
        return b""


@dataclass(frozen=True, slots=True)
class WrittenLayer:
    digest: str
    size: int
    diff_id: str
    uncompressed_size: int


def write_layer(blobs_dir: Path, *, seed: int, size: int, compressibility: float,
                compression: Compression, name: str, level: int | None = None) -> WrittenLayer:
    """Generate one layer into ``blobs_dir/<hex>`` (temp file + rename) and return its digests."""
    blobs_dir.mkdir(parents=True, exist_ok=True)
    tmp = blobs_dir / f".gen-{seed}-{os.getpid()}.tmp"
    blob_hash = hashlib.sha256()
    diff_hash = hashlib.sha256()
    encoder = _Encoder(compression, level)
    blob_size = 0
    plain_size = 0
    with open(tmp, "wb") as handle:
        for chunk in tar_stream(seed, size, compressibility, name):
            diff_hash.update(chunk)
            plain_size += len(chunk)
            encoded = encoder.feed(chunk)
            blob_hash.update(encoded)
            blob_size += len(encoded)
            handle.write(encoded)
        tail = encoder.finish()
        blob_hash.update(tail)
        blob_size += len(tail)
        handle.write(tail)
    digest = f"sha256:{blob_hash.hexdigest()}"
    final = blobs_dir / digest[7:]
    if final.exists():
        tmp.unlink()
    else:
        os.chmod(tmp, 0o444)
        os.replace(tmp, final)
    return WrittenLayer(digest, blob_size, f"sha256:{diff_hash.hexdigest()}", plain_size)

"""Every path that decompresses a layer stays flat in memory at 1000:1 (issue 10 item 6), re-export
bounds its temporary output and checks free space first (item 8), and ``inspect --uncompressed``
reports a layer that fails verification in one line (item 13)."""

from __future__ import annotations

import gzip
import hashlib
import os
import tracemalloc
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pytest
import zstandard

from cachetui.buildkit.rewrite import rewrite_document
from cachetui.cli import main
from cachetui.errors import DigestMismatch, FormatError, NoSpace
from cachetui.oci import mediatypes as mt
from cachetui.oci.mediatypes import Compression
from cachetui.oci.models import Descriptor
from cachetui.ops import codecs, recompress, reexport
from cachetui.ops.codecs import IterReader, RoundTrip, digest_plain, plain_stream
from cachetui.ops.load import load_document
from cachetui.ops.progress import CancelToken
from cachetui.ops.reexport import ReexportSettings, reexport_cache, verify_output
from cachetui.ops.uncompressed import UncompressedSizes, fill, measure
from cachetui.store.layout import LayoutStore
from tests.prune_support import cache_manifest, write_index

PLAIN = 256 * 1024 * 1024
"""Zeros: gzip and zstd both pack them better than 1000:1."""
LIMIT = 24 * 1024 * 1024
"""Peak traced memory allowed for a path that decodes PLAIN bytes (an unbounded step: >= 256 MiB)."""
ZERO_DIFF_ID = "sha256:" + hashlib.sha256(bytes(PLAIN)).hexdigest()


def bomb(compression: Compression) -> bytes:
    zeros = bytes(PLAIN)
    if compression is Compression.GZIP:
        data = gzip.compress(zeros, compresslevel=9, mtime=0)
    else:
        data = zstandard.ZstdCompressor(level=19).compress(zeros)
    assert PLAIN / len(data) >= 1000
    return data


def layout_with(tmp_path: Path, layer: bytes, compression: Compression, *,
                diff_id: str | None = ZERO_DIFF_ID) -> tuple[LayoutStore, Descriptor]:
    """A one-layer cache whose layer is ``layer`` (diffID annotation as given)."""
    root = tmp_path / f"src-{compression}"
    manifest = cache_manifest(root, [layer], datetime(2026, 1, 1, tzinfo=UTC))
    write_index(root, {"latest": manifest})
    media_type = mt.OCI_LAYER_GZIP if compression is Compression.GZIP else mt.OCI_LAYER_ZSTD
    path = root / "blobs" / "sha256" / manifest[0][7:]
    raw = path.read_bytes()
    text = raw.decode().replace(mt.OCI_LAYER_GZIP, media_type)
    fake = "sha256:" + hashlib.sha256(b"diff" + layer).hexdigest()  # cache_manifest's own
    text = text.replace(fake, diff_id) if diff_id else text.replace(
        f',"containerd.io/uncompressed":"{fake}"', "")
    new = text.encode()
    digest = "sha256:" + hashlib.sha256(new).hexdigest()
    (root / "blobs" / "sha256" / digest[7:]).write_bytes(new)
    write_index(root, {"latest": (digest, len(new))})
    descriptor = Descriptor(media_type=media_type,
                            digest="sha256:" + hashlib.sha256(layer).hexdigest(), size=len(layer))
    return LayoutStore(root), descriptor


async def peak_of(run: Callable[[], Coroutine[Any, Any, Any]]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = await run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


# ---- item 6: one bounded pipeline, flat memory on every path -----------------------------------

@pytest.mark.parametrize("compression", [Compression.GZIP, Compression.ZSTD])
async def test_measuring_a_1000_to_1_layer_is_flat(tmp_path: Path, compression: Compression) -> None:
    """The path of ``inspect --uncompressed`` and the TUI's ``u``."""
    store, descriptor = layout_with(tmp_path, bomb(compression), compression)
    (size, diff_id), peak = await peak_of(lambda: measure(store, descriptor))
    assert (size, diff_id) == (PLAIN, ZERO_DIFF_ID)
    assert peak < LIMIT, peak
    memo = UncompressedSizes()
    _, peak = await peak_of(lambda: fill(store, [descriptor], memo))
    assert memo.get(descriptor.digest) == PLAIN
    assert peak < LIMIT, peak


@pytest.mark.parametrize("compression", [Compression.GZIP, Compression.ZSTD])
async def test_verifying_a_1000_to_1_layer_is_flat(tmp_path: Path, compression: Compression) -> None:
    """Re-export's verify pass over a layer it did not decode while encoding (a kept layer)."""
    store, descriptor = layout_with(tmp_path, bomb(compression), compression)
    document = await load_document(store, "latest")
    rewritten = rewrite_document(document, {})
    count, peak = await peak_of(lambda: verify_output(
        store, rewritten, {descriptor.digest: ZERO_DIFF_ID}, cancel=CancelToken()))
    assert count == 1
    assert peak < LIMIT, peak


@pytest.mark.parametrize(("source", "target"), [("gzip", "zstd"), ("zstd", "gzip"),
                                                 ("gzip", "uncompressed")])
async def test_reexporting_a_1000_to_1_layer_is_flat(tmp_path: Path, source: str,
                                                     target: str) -> None:
    """The re-encode path end to end (encode, round-trip check, upload, verify)."""
    store, _ = layout_with(tmp_path, bomb(Compression(source)), Compression(source))
    out = LayoutStore(tmp_path / "out", create=True)
    result, peak = await peak_of(lambda: reexport_cache(
        store, "latest", out, "z", ReexportSettings(compression=Compression(target))))
    assert result.verified_layers == 1
    assert peak < LIMIT, peak


async def test_the_tui_u_key_measures_a_1000_to_1_layer_flat(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from cachetui.tui.app import make_app
    from cachetui.tui.screens.cache import CacheScreen
    from cachetui.tui.widgets.layers_table import LayersTable
    from tests.tui.conftest import clock, settle

    monkeypatch.setenv("CACHETUI_CONFIG", str(tmp_path / "no-config.toml"))
    store, descriptor = layout_with(tmp_path, bomb(Compression.GZIP), Compression.GZIP)
    app = make_app([str(store.root)], clock=clock, use_config_sources=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        tracemalloc.start()  # the cache screen may measure a small local cache as it opens
        try:
            await pilot.press("enter")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, CacheScreen)
            table = screen.query_one(LayersTable)
            await pilot.press("u")
            await settle(pilot)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert app.uncompressed.get(descriptor.digest) == PLAIN
        assert str(table.get_cell(descriptor.digest, "usize")) not in ("-", "…", "error")
    assert peak < 2 * LIMIT, peak


def test_plain_stream_pieces_never_pass_a_chunk() -> None:
    data = gzip.compress(bytes(64 * 1024 * 1024), mtime=0)
    pieces = [len(p) for p in plain_stream(IterReader([data]), Compression.GZIP)]
    assert sum(pieces) == 64 * 1024 * 1024
    assert max(pieces) <= 1024 * 1024


@pytest.mark.parametrize("compression", [Compression.GZIP, Compression.ZSTD])
def test_truncated_and_multi_part_streams(compression: Compression) -> None:
    first, second = os.urandom(300_000), b"ab" * 200_000
    if compression is Compression.GZIP:
        parts = [gzip.compress(first, mtime=0), gzip.compress(second, mtime=0)]
    else:
        parts = [zstandard.ZstdCompressor(write_checksum=True).compress(first),
                 zstandard.ZstdCompressor(write_content_size=False).compress(second)]
    whole = b"".join(parts)
    pieces = [whole[i:i + 7777] for i in range(0, len(whole), 7777)]
    assert digest_plain(IterReader(pieces), compression) == (
        len(first + second), "sha256:" + hashlib.sha256(first + second).hexdigest())
    for cut in (len(whole) - 1, len(parts[0]) + 5, 3):
        with pytest.raises(FormatError, match=r"truncated|corrupt"):
            digest_plain(IterReader([whole[:cut]]), compression)


@pytest.mark.parametrize("compression", [Compression.GZIP, Compression.ZSTD])
def test_round_trip_check_catches_an_encoder_that_lies(compression: Compression) -> None:
    plain = os.urandom(100_000)
    encoder = codecs.encoder_for(compression, 1)
    good = encoder.compress(plain) + encoder.flush()
    check = RoundTrip(compression)
    check.plain(plain)
    check.encoded(good)
    check.finish()
    other = codecs.encoder_for(compression, 1)
    changed = plain[:-1] + bytes([plain[-1] ^ 0xFF])  # (a fixed b"?" was the same byte 1 in 256)
    wrong = other.compress(changed) + other.flush()
    check = RoundTrip(compression)
    check.plain(plain)
    with pytest.raises(FormatError, match="original bytes"):
        check.encoded(wrong)


@pytest.mark.parametrize("compression", [Compression.GZIP, Compression.ZSTD])
def test_round_trip_compares_across_uneven_blocks(compression: Compression) -> None:
    """The plain blocks are kept as they are (not copied) and compared piece by piece: decoded
    output that spans several blocks, or ends inside one, is matched byte for byte."""
    blocks = [os.urandom(70_000), b"x", os.urandom(3), b"\0" * 200_000, os.urandom(50_001)]

    def run(fed: list[bytes]) -> None:
        encoder = codecs.encoder_for(compression, 1)
        check = RoundTrip(compression)
        for block, seen in zip(blocks, fed, strict=True):
            check.plain(block)
            check.encoded(encoder.compress(seen))
        check.encoded(encoder.flush())
        check.finish()

    run(blocks)
    for damaged in (1, 3):  # the encoder sees a different byte than the check
        fed = list(blocks)
        fed[damaged] = fed[damaged][:-1] + bytes([fed[damaged][-1] ^ 1])
        with pytest.raises(FormatError, match="original bytes"):
            run(fed)
    check = RoundTrip(compression)
    check.plain(blocks[0])
    check.plain(blocks[1])
    encoder = codecs.encoder_for(compression, 1)
    check.encoded(encoder.compress(blocks[0]) + encoder.flush())
    with pytest.raises(FormatError, match="missing 1 bytes"):
        check.finish()


# ---- item 8: bounded temporary output, free space first, early diffID failure ------------------

class CountingFile:
    """Wraps the output file of a re-encoded layer (a temp file, or the file staged in the
    destination) and counts what is written to it."""

    written = 0

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner

    def write(self, data: bytes) -> int:
        CountingFile.written += len(data)
        return self._inner.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def counted_temp(monkeypatch: pytest.MonkeyPatch) -> type[CountingFile]:
    real = recompress._create
    CountingFile.written = 0
    monkeypatch.setattr(recompress, "_create", lambda path: CountingFile(real(path)))
    real_stage = LayoutStore.stage_blob_sync

    def counting_stage(self: LayoutStore) -> Any:  # a directory destination: written in place
        staged = real_stage(self)
        staged._handle = CountingFile(staged._handle)  # type: ignore[attr-defined]
        return staged

    monkeypatch.setattr(LayoutStore, "stage_blob_sync", counting_stage)
    return CountingFile


@pytest.mark.parametrize("target", ["uncompressed", "zstd"])
async def test_wrong_diff_id_fails_before_writing_the_bomb_out(
        tmp_path: Path, target: str, counted_temp: type[CountingFile]) -> None:
    wrong = "sha256:" + "1" * 64
    store, _ = layout_with(tmp_path, bomb(Compression.GZIP), Compression.GZIP, diff_id=wrong)
    out = LayoutStore(tmp_path / "out", create=True)
    with pytest.raises(DigestMismatch, match=r"containerd\.io/uncompressed"):
        await reexport_cache(store, "latest", out, "z",
                             ReexportSettings(compression=Compression(target)))
    assert counted_temp.written < 32 * 1024 * 1024  # the layer is 256 MiB uncompressed
    assert not (tmp_path / "out" / "index.json").exists()
    assert out.scan_leftovers_sync() == []  # the output staged in the destination is gone


async def test_uncompressed_target_measures_first_and_bounds_the_output(
        tmp_path: Path, counted_temp: type[CountingFile]) -> None:
    store, _ = layout_with(tmp_path, bomb(Compression.GZIP), Compression.GZIP)
    out = LayoutStore(tmp_path / "out", create=True)
    result = await reexport_cache(store, "latest", out, "z",
                                  ReexportSettings(compression=Compression.UNCOMPRESSED))
    assert result.verified_layers == 1
    assert counted_temp.written == PLAIN


async def test_a_layer_past_its_soft_bound_is_measured_then_encoded_exactly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """zstd → gzip of data zstd packs far better than gzip: legitimately past twice the blob."""
    monkeypatch.setattr(reexport, "_SOFT_BOUND_SLACK", 0)
    block = os.urandom(100_000)
    plain = block * 40  # repeats 100 KB apart: in zstd's window, outside gzip's 32 KiB
    layer = zstandard.ZstdCompressor(level=3).compress(plain)
    store, _ = layout_with(tmp_path, layer, Compression.ZSTD,
                           diff_id="sha256:" + hashlib.sha256(plain).hexdigest())
    out = LayoutStore(tmp_path / "out", create=True)
    result = await reexport_cache(store, "latest", out, "z",
                                  ReexportSettings(compression=Compression.GZIP))
    [new] = result.replaced.values()
    assert (tmp_path / "out" / "blobs" / "sha256" / new[7:]).stat().st_size > 2 * len(layer)


async def test_too_little_free_space_refuses_before_writing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counted_temp: type[CountingFile]) -> None:
    store, _ = layout_with(tmp_path, bomb(Compression.GZIP), Compression.GZIP)

    class Usage:
        total, used, free = 10**12, 10**12 - 10, 10

    monkeypatch.setattr("shutil.disk_usage", lambda _: Usage)
    out = LayoutStore(tmp_path / "out", create=True)
    with pytest.raises(NoSpace, match="temporary space"):
        await reexport_cache(store, "latest", out, "z",
                             ReexportSettings(compression=Compression.ZSTD))
    assert counted_temp.written == 0


def test_too_little_free_space_is_one_line_in_the_cli(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    store, _ = layout_with(tmp_path, gzip.compress(b"x" * 100_000, mtime=0), Compression.GZIP,
                           diff_id=None)

    class Usage:
        total, used, free = 10**12, 10**12 - 10, 10

    monkeypatch.setattr("shutil.disk_usage", lambda _: Usage)
    code = main(["reexport", str(store.root), f"{tmp_path / 'out'}:z", "--compression", "zstd"])
    err = capsys.readouterr().err
    assert code != 0
    assert "temporary space" in err and "Traceback" not in err


# ---- item 13: one clean line for a layer that fails verification --------------------------------

def test_inspect_uncompressed_of_a_corrupt_layer_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layer = gzip.compress(b"hello" * 1000, mtime=0)
    store, descriptor = layout_with(tmp_path, layer, Compression.GZIP)
    path = store.root / "blobs" / "sha256" / descriptor.digest[7:]
    path.write_bytes(bytes(len(layer)))  # same size, wrong content
    code = main(["inspect", "--uncompressed", str(store.root)])
    captured = capsys.readouterr()
    assert code != 0
    assert "Traceback" not in captured.err and "ExceptionGroup" not in captured.err
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert descriptor.digest[7:19] in lines[0]


@pytest.mark.parametrize("level", [1, 2, 3, 6, 9])
def test_gzip_levels_1_to_3_use_isal_and_every_level_is_plain_gzip(level: int) -> None:
    plain = b"layer data " * 50_000 + os.urandom(50_000)
    encoder = codecs.encoder_for(Compression.GZIP, level)
    out = encoder.compress(plain) + encoder.flush()
    assert gzip.decompress(out) == plain
    again = codecs.encoder_for(Compression.GZIP, level)
    assert again.compress(plain) + again.flush() == out  # deterministic
    assert codecs.gzip_encoder_backend(level) == ("isa-l" if level <= 3 else "zlib")
    assert codecs.GZIP_BACKEND == "isa-l"  # a dependency: installed wherever the tests run

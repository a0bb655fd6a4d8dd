"""One layer's codec work split across two threads (issue 13 item 6): the halves overlap, the
queue between them stays bounded, and a failure on either side stops the other and is raised."""

from __future__ import annotations

import gzip
import hashlib
import io
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cachetui.errors import Cancelled, FormatError
from cachetui.oci.mediatypes import Compression
from cachetui.ops import codecs, recompress
from cachetui.ops import handoff as handoff_module
from cachetui.ops.codecs import IterReader, digest_plain, fixed_blocks
from cachetui.ops.handoff import DEPTH, Handoff, pipelined
from cachetui.ops.recompress import Encoding, OutputLimitExceeded, encode_sync
from cachetui.store.base import CHUNK_SIZE


def stage_threads() -> list[str]:
    """Threads :func:`pipelined` started that are still there (not the codec pool's)."""
    return [t.name for t in threading.enumerate() if t.name in ("cachetui-stage", "cachetui-encode",
                                                         "cachetui-hash")]


def test_the_consumer_runs_beside_the_producer() -> None:
    """The producer waits for the consumer to have taken an item before it puts the next:
    in one thread this would never end."""
    taken = threading.Event()

    def produce(handoff: Handoff[int]) -> str:
        handoff.put(1)
        assert taken.wait(5), "the consumer did not run while the producer waited"
        handoff.put(2)
        return "done"

    def consume(items: Iterator[int]) -> list[int]:
        out = []
        for item in items:
            out.append(item)
            taken.set()
        return out

    assert pipelined(produce, consume) == ("done", [1, 2])
    assert not stage_threads()


def test_the_queue_between_the_threads_is_bounded() -> None:
    ahead: list[int] = []
    consumed = 0
    release = threading.Event()

    def produce(handoff: Handoff[int]) -> None:
        for item in range(50):
            handoff.put(item)
            ahead.append(item - consumed)

    def consume(items: Iterator[int]) -> None:
        nonlocal consumed
        for _ in items:
            release.wait(5)
            consumed += 1

    threading.Timer(0.3, release.set).start()
    pipelined(produce, consume)
    assert max(ahead) <= DEPTH + 1
    assert consumed == 50


def test_a_failing_consumer_stops_the_producer_and_its_error_is_raised() -> None:
    put = 0

    def produce(handoff: Handoff[int]) -> None:
        nonlocal put
        for item in range(10_000):
            handoff.put(item)
            put += 1

    def consume(items: Iterator[int]) -> None:
        for item in items:
            if item == 3:
                raise FormatError("bad block")

    with pytest.raises(FormatError, match="bad block"):
        pipelined(produce, consume)
    assert put < 3 + DEPTH + 2
    assert not stage_threads()


def test_a_failing_producer_stops_the_consumer_and_its_error_is_raised() -> None:
    consumed: list[int] = []

    def produce(handoff: Handoff[int]) -> None:
        handoff.put(1)
        raise Cancelled("cancelled")

    def consume(items: Iterator[int]) -> None:
        consumed.extend(items)

    started = time.perf_counter()
    with pytest.raises(Cancelled):
        pipelined(produce, consume)
    assert time.perf_counter() - started < 2
    assert consumed in ([], [1])
    assert not stage_threads()


def test_a_consumer_that_stops_early_is_an_error_not_a_hang() -> None:
    def produce(handoff: Handoff[int]) -> None:
        for item in range(100):
            handoff.put(item)

    def consume(items: Iterator[int]) -> None:
        next(iter(items))

    with pytest.raises(RuntimeError, match="stopped before"):
        pipelined(produce, consume)


# ---- encode_sync on two threads ----------------------------------------------------------------

PLAIN = bytes(range(256)) * 4096 * 3 + b"tail"  # 3 MiB and a bit: several 1 MiB blocks


def gz(data: bytes) -> list[bytes]:
    raw = gzip.compress(data, mtime=0)
    return [raw[i:i + 65536] for i in range(0, len(raw), 65536)]


def test_encoding_runs_in_a_second_thread_with_the_same_bytes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    threads: set[str] = set()
    real = codecs.encoder_for

    class Spy:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def compress(self, data: bytes) -> bytes:
            threads.add(threading.current_thread().name)
            return self.inner.compress(data)  # type: ignore[no-any-return]

        def flush(self) -> bytes:
            return self.inner.flush()  # type: ignore[no-any-return]

    monkeypatch.setattr(recompress, "encoder_for", lambda c, level: Spy(real(c, level)))
    out = io.BytesIO()
    digest, size, diff_id, plain = encode_sync(IterReader(gz(PLAIN)), Compression.GZIP,
                                               Encoding.of(Compression.ZSTD), out,
                                               threading.Event())
    assert threads == {"cachetui-encode"}
    expected = real(Compression.ZSTD, 3)
    blocks = [PLAIN[i:i + 1024 * 1024] for i in range(0, len(PLAIN), 1024 * 1024)]
    reference = b"".join(expected.compress(b) for b in blocks) + expected.flush()
    assert out.getvalue() == reference
    assert (str(digest), size) == ("sha256:" + hashlib.sha256(reference).hexdigest(),
                                   len(reference))
    assert (diff_id, plain) == ("sha256:" + hashlib.sha256(PLAIN).hexdigest(), len(PLAIN))


def test_an_uncompressed_target_has_one_digest_for_blob_and_diff_id() -> None:
    out = io.BytesIO()
    digest, size, diff_id, plain = encode_sync(IterReader(gz(PLAIN)), Compression.GZIP,
                                               Encoding.of(Compression.UNCOMPRESSED), out,
                                               threading.Event())
    assert out.getvalue() == PLAIN
    assert str(digest) == diff_id == "sha256:" + hashlib.sha256(PLAIN).hexdigest()
    assert size == plain == len(PLAIN)


def test_the_output_bound_raised_in_the_encoder_thread_reaches_the_caller() -> None:
    data = random.Random(13).randbytes(3 * 1024 * 1024)  # incompressible
    with pytest.raises(OutputLimitExceeded):
        encode_sync(IterReader(gz(data)), Compression.GZIP, Encoding.of(Compression.ZSTD),
                    io.BytesIO(), threading.Event(), max_output=1024)
    assert not stage_threads()


def test_a_corrupt_source_fails_in_the_decoding_thread_and_stops_the_encoder() -> None:
    chunks = gz(PLAIN)
    broken = chunks[0][:40] + bytes(len(chunks[0]) - 40)
    with pytest.raises(FormatError, match="corrupt gzip"):
        encode_sync(IterReader([broken, *chunks[1:]]), Compression.GZIP,
                    Encoding.of(Compression.ZSTD), io.BytesIO(), threading.Event())
    assert not stage_threads()


# ---- the fixed blocks the encoder is fed ------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3 * CHUNK_SIZE), max_size=8), st.booleans())
def test_fixed_blocks_recut_any_pieces_into_exact_blocks(sizes: list[int], aligned: bool) -> None:
    """Whatever pieces the decoder hands over, the encoder sees the same exact blocks: its
    output (and so the blob digest) cannot depend on how the source arrived."""
    if aligned:
        sizes = [CHUNK_SIZE, *sizes]
    data = random.Random(sum(sizes)).randbytes(sum(sizes))
    pieces, start = [], 0
    for size in sizes:
        pieces.append(data[start:start + size])
        start += size
    blocks = list(fixed_blocks(iter(pieces)))
    assert b"".join(blocks) == data
    assert all(type(block) is bytes for block in blocks)
    assert [len(block) for block in blocks] == [
        min(CHUNK_SIZE, len(data) - at) for at in range(0, len(data), CHUNK_SIZE)]
    if aligned:
        assert blocks[0] is pieces[0]  # a piece that is a block already is not copied


def test_measuring_a_compressed_layer_hashes_in_a_second_thread(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """verify (kept layers), inspect --uncompressed and the TUI's u: decode ‖ hash."""
    hashed_in: list[str] = []
    real = handoff_module.pipelined

    def spy(produce: Any, consume: Any, *, name: str) -> Any:
        def consume_here(items: Iterator[bytes]) -> Any:
            hashed_in.append(threading.current_thread().name)
            return consume(items)

        return real(produce, consume_here, name=name)

    monkeypatch.setattr(codecs, "pipelined", spy)
    assert digest_plain(IterReader(gz(PLAIN)), Compression.GZIP) == (
        len(PLAIN), "sha256:" + hashlib.sha256(PLAIN).hexdigest())
    assert hashed_in == ["cachetui-hash"]
    assert digest_plain(IterReader([PLAIN]), Compression.UNCOMPRESSED) == (
        len(PLAIN), "sha256:" + hashlib.sha256(PLAIN).hexdigest())
    assert hashed_in == ["cachetui-hash"]  # nothing to decode: one thread
    assert not stage_threads()

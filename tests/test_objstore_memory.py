"""Upload memory does not grow with the blob size (tracemalloc against moto and Azurite).

A blob is generated chunk by chunk (never whole in memory), hashed in a first pass and uploaded
in a second; the peak of Python allocations during the upload is compared across two sizes.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import random
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import pytest

from cachetui.oci import mediatypes as mt
from cachetui.oci.models import Descriptor
from cachetui.store.azblob import AzblobStore
from cachetui.store.httpobj import PART_SIZE, PARTS_IN_MEMORY
from cachetui.store.objects import ObjectStore
from cachetui.store.s3 import S3Store
from tests.objstore_procs import Azurite, Moto
from tests.objstore_servers import az_settings, s3_settings, unique_name

CHUNK = 1024 * 1024
SMALL = 3 * PART_SIZE + 12345
LARGE = 12 * PART_SIZE + 12345
BOUND = (PARTS_IN_MEMORY + 1) * PART_SIZE
"""Parts in flight and slack for chunks in transit (an upload that joined each part, or let
the socket transport buffer a copy of it, goes over)."""


def pattern(size: int, seed: int) -> Iterator[bytes]:
    """``size`` reproducible, incompressible bytes in 1 MiB chunks."""
    rng = random.Random(seed)
    for start in range(0, size, CHUNK):
        yield rng.randbytes(min(CHUNK, size - start))


async def streamed(size: int, seed: int) -> AsyncIterator[bytes]:
    for chunk in pattern(size, seed):
        yield chunk


def descriptor_for(size: int, seed: int) -> Descriptor:
    hasher = hashlib.sha256()
    for chunk in pattern(size, seed):
        hasher.update(chunk)
    return Descriptor(media_type=mt.OCI_LAYER_GZIP, digest="sha256:" + hasher.hexdigest(),
                      size=size)


async def upload_peak(store: ObjectStore, size: int, seed: int, *, blobs: int = 1) -> int:
    """Peak bytes Python held while ``blobs`` blobs of ``size`` bytes went up at once (each
    is then stored)."""
    descriptors = [descriptor_for(size, seed + n) for n in range(blobs)]
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        await asyncio.gather(*(store.put_blob(descriptor, streamed(size, seed + n))
                               for n, descriptor in enumerate(descriptors)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    for descriptor in descriptors:
        assert await store.blob_size(descriptor.blob_digest) == size
    return peak - base


def make_store(backend: str, moto: Moto, azurite: Azurite) -> ObjectStore:
    if backend == "s3":
        bucket = unique_name()
        moto.client().create_bucket(Bucket=bucket)
        return S3Store(s3_settings(moto, bucket))
    return AzblobStore(az_settings(azurite, unique_name()))


@pytest.mark.parametrize("backend", ["s3", "azblob"])
async def test_upload_memory_is_bounded_by_parts_in_flight_not_by_blob_size(
        backend: str, moto: Moto, azurite: Azurite) -> None:
    store = make_store(backend, moto, azurite)
    await upload_peak(store, 2 * CHUNK, 0)  # connections, credentials, imports: not counted
    small = await upload_peak(store, SMALL, 1)
    large = await upload_peak(store, LARGE, 2)
    assert small < BOUND and large < BOUND, (small, large, BOUND)
    assert large < small + 2 * PART_SIZE, (small, large)
    await store.aclose()


@pytest.mark.parametrize("backend", ["s3", "azblob"])
async def test_blobs_waiting_for_a_part_slot_hold_no_part(
        backend: str, moto: Moto, azurite: Azurite) -> None:
    """Six blobs at once (a copy's concurrency): only the parts in flight are in memory, plus
    a chunk per blob; a blob queued for a slot holds none of its sent parts."""
    blobs = 6
    store = make_store(backend, moto, azurite)
    await upload_peak(store, 2 * CHUNK, 0)
    peak = await upload_peak(store, 2 * PART_SIZE + 12345, 10, blobs=blobs)
    # Parts in flight, the chunk each blob's reader holds, a few chunks in transit (27 MiB
    # here; 41 MiB when each queued blob kept its last part).
    bound = PARTS_IN_MEMORY * PART_SIZE + blobs * CHUNK + 4 * CHUNK
    assert peak < bound, (peak, bound)
    await store.aclose()

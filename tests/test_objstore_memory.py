"""Upload memory does not grow with the blob size (tracemalloc against moto and Azurite).

A blob is generated chunk by chunk (never whole in memory), hashed in a first pass and uploaded
in a second; the peak of Python allocations during the upload is compared across two sizes.
"""

from __future__ import annotations

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


async def upload_peak(store: ObjectStore, size: int, seed: int) -> int:
    """Peak bytes Python held while ``size`` bytes went up (and the blob is then stored)."""
    descriptor = descriptor_for(size, seed)
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        await store.put_blob(descriptor, streamed(size, seed))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert await store.blob_size(descriptor.blob_digest) == size
    return peak - base


@pytest.mark.parametrize("backend", ["s3", "azblob"])
async def test_upload_memory_is_bounded_by_parts_in_flight_not_by_blob_size(
        backend: str, moto: Moto, azurite: Azurite) -> None:
    if backend == "s3":
        bucket = unique_name()
        moto.client().create_bucket(Bucket=bucket)
        store: ObjectStore = S3Store(s3_settings(moto, bucket))
    else:
        store = AzblobStore(az_settings(azurite, unique_name()))
    await upload_peak(store, 2 * CHUNK, 0)  # connections, credentials, imports: not counted
    small = await upload_peak(store, SMALL, 1)
    large = await upload_peak(store, LARGE, 2)
    assert small < BOUND and large < BOUND, (small, large, BOUND)
    assert large < small + 2 * PART_SIZE, (small, large)
    await store.aclose()

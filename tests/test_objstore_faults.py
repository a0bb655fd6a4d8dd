"""Fault injection in front of moto and Azurite: retries, verified reads, multipart and aborts."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import httpx
import pytest

from cachetui.errors import DigestMismatch, RegistryError
from cachetui.oci import mediatypes as mt
from cachetui.oci.models import Descriptor
from cachetui.ops.copy import copy_cache
from cachetui.store import httpobj
from cachetui.store.azblob import AzblobStore
from cachetui.store.objects import ObjectStore
from cachetui.store.s3 import S3Store
from tests.fault_transport import Action, Faults
from tests.objstore_procs import Azurite, Moto
from tests.objstore_servers import az_settings, s3_loaded, s3_settings, unique_name

BIG = 20 * 1024 * 1024 + 12345
"""Over two 8 MiB parts: a multipart upload (s3) / block list (azblob)."""


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpobj, "backoff", lambda attempt, retry_after=None: 0.0)


def answer(code: int, body: bytes) -> Action:
    async def act(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        return httpx.Response(code, content=body, headers={"content-type": "application/xml"})
    return act


SLOW_DOWN = (b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code>"
             b"<Message>Please reduce your request rate.</Message></Error>")


def s3_with(moto: Moto, faults: Faults, bucket: str | None = None) -> S3Store:
    if bucket is None:
        bucket = unique_name()
        moto.client().create_bucket(Bucket=bucket)
    return S3Store(s3_settings(moto, bucket), transport=faults)


def az_with(azurite: Azurite, faults: Faults) -> AzblobStore:
    return AzblobStore(az_settings(azurite, unique_name()), transport=faults)


async def test_s3_slowdown_and_500s_are_retried_during_a_copy(moto: Moto) -> None:
    source = s3_loaded(moto, "min")
    faults = Faults(inner=httpx.AsyncHTTPTransport())
    faults.add("PUT", "/blobs/", answer(503, SLOW_DOWN), times=2)
    faults.add("GET", "/manifests/", answer(500, b"<Error><Code>InternalError</Code></Error>"),
               times=1)
    target = s3_with(moto, faults)
    await copy_cache(source, ["buildkit"], target)
    assert await target.read_annotated("buildkit") == await source.read_annotated("buildkit")
    assert faults.count("PUT", "/blobs/") == 3 + 2
    await source.aclose()
    await target.aclose()


async def test_azblob_429_is_retried(azurite: Azurite, moto: Moto) -> None:
    source = s3_loaded(moto, "min")
    faults = Faults(inner=httpx.AsyncHTTPTransport())
    faults.add("PUT", "/blobs/", answer(429, b"<Error><Code>ServerBusy</Code></Error>"),
               times=3)
    target = az_with(azurite, faults)
    await copy_cache(source, ["buildkit"], target)
    assert await target.read_annotated("buildkit") == await source.read_annotated("buildkit")
    await source.aclose()
    await target.aclose()


async def test_retries_give_up_with_one_line(moto: Moto) -> None:
    faults = Faults(inner=httpx.AsyncHTTPTransport())
    faults.add("GET", "list-type", answer(503, SLOW_DOWN), times=99)
    store = s3_with(moto, faults)
    with pytest.raises(RegistryError, match="SlowDown") as caught:
        await store.list_tags()
    assert "\n" not in str(caught.value)
    await store.aclose()


async def test_a_corrupt_blob_body_is_refused_before_its_last_chunk(moto: Moto) -> None:
    source = s3_loaded(moto, "min")
    document_top = await source.get_manifest("buildkit")
    layer = document_top.body.layers[0]  # type: ignore[union-attr]

    async def corrupt(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        real = await inner.handle_async_request(request)
        data = await real.aread()
        return httpx.Response(200, headers={"content-length": str(len(data))},
                              stream=httpx.ByteStream(bytes([data[0] ^ 1]) + data[1:]))

    faults = Faults(inner=httpx.AsyncHTTPTransport())
    faults.add("GET", layer.digest[7:], corrupt)
    reader = S3Store(source.settings, transport=faults)
    with pytest.raises(DigestMismatch):
        async for _ in reader.open_blob(layer):
            pass
    await source.aclose()
    await reader.aclose()


async def _big(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 1024 * 1024):
        yield data[start:start + 1024 * 1024]


@pytest.mark.parametrize("backend", ["s3", "azblob"])
async def test_big_blobs_go_up_in_parts_and_a_wrong_digest_leaves_nothing(
        backend: str, moto: Moto, azurite: Azurite) -> None:
    faults = Faults(inner=httpx.AsyncHTTPTransport())
    store: ObjectStore = s3_with(moto, faults) if backend == "s3" else az_with(azurite, faults)
    data = os.urandom(BIG)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    good = Descriptor(media_type=mt.OCI_LAYER_GZIP, digest=digest, size=BIG)
    await store.put_blob(good, _big(data))
    part = "partNumber=" if backend == "s3" else "blockid="
    assert faults.count("PUT", part) == 3
    back = b"".join([chunk async for chunk in store.open_blob(good)])
    assert back == data
    wrong = Descriptor(media_type=mt.OCI_LAYER_GZIP, digest="sha256:" + "0" * 64, size=BIG)
    with pytest.raises(DigestMismatch):
        await store.put_blob(wrong, _big(data))
    assert await store.blob_size(wrong.blob_digest) is None
    await store.aclose()


@pytest.mark.parametrize(("sizes", "want"), [([3, 5, 7, 1], [4, 4, 4, 4]), ([10], [4, 4, 2]),
                                             ([], []), ([1] * 9, [4, 4, 1])])
async def test_parts_recut_a_stream_into_exact_sizes(sizes: list[int], want: list[int]) -> None:
    async def gen() -> AsyncIterator[bytes]:
        for n, size in enumerate(sizes):
            yield bytes([n]) * size

    got = [b"".join(part) async for part in httpobj.parts(gen(), 4)]
    assert [len(p) for p in got] == want
    assert b"".join(got) == b"".join(bytes([n]) * s for n, s in enumerate(sizes))


@pytest.mark.parametrize(("size", "limit", "want_mib"), [
    (0, 10_000, 8), (BIG, 10_000, 8), (78 * 1024**3, 10_000, 8),
    (79 * 1024**3, 10_000, 9), (1024**4, 10_000, 105), (1024**4, 50_000, 21)])
def test_parts_grow_only_when_the_part_count_limit_needs_it(size: int, limit: int,
                                                            want_mib: int) -> None:
    part = httpobj.part_size_for(size, limit)
    assert part == want_mib * 1024 * 1024
    assert -(-size // part) <= limit

"""A download cut mid-body resumes with ``Range`` (moto and Azurite behind a cutting transport)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from cachetui.errors import DigestMismatch
from cachetui.oci import mediatypes as mt
from cachetui.oci.models import Descriptor
from cachetui.ops import transfer
from cachetui.ops.progress import CancelToken, no_progress
from cachetui.store import httpobj
from cachetui.store.layout import LayoutStore
from cachetui.store.objects import ObjectStore
from tests.fault_transport import Action, Faults
from tests.objstore_procs import Azurite, Moto
from tests.objstore_servers import az_settings, s3_settings, unique_name

SIZE = 3 * 1024 * 1024 + 4321
CUT = 1024 * 1024 + 777
"""Bytes a cut stream delivers before the connection breaks: mid-chunk, not on a boundary."""


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpobj, "backoff", lambda attempt, retry_after=None: 0.0)


class _CutStream(httpx.AsyncByteStream):
    """The real body for ``limit`` bytes, then a broken connection."""

    def __init__(self, real: httpx.Response, limit: int) -> None:
        self._real = real
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        async for piece in self._real.aiter_raw():
            if sent + len(piece) >= self._limit:
                yield piece[:self._limit - sent]
                raise httpx.RemoteProtocolError("peer closed connection without sending "
                                                "complete message body")
            sent += len(piece)
            yield piece

    async def aclose(self) -> None:
        await self._real.aclose()


Then = Callable[[], Awaitable[None]]


def cut_after(limit: int, then: Then | None = None) -> Action:
    """Answer with the real response whose body breaks after ``limit`` bytes; ``then`` runs
    once the real answer is in (to change the object before the resume)."""
    async def act(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        real = await inner.handle_async_request(request)
        response = httpx.Response(real.status_code, headers=real.headers,
                                  stream=_CutStream(httpx.Response(200, stream=real.stream),
                                                    limit))
        if then is not None:
            await then()
        return response
    return act


def forward_then(then: Then, statuses: list[int]) -> Action:
    """Send the request on, note the answer's status, then run ``then``."""
    async def act(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        real = await inner.handle_async_request(request)
        statuses.append(real.status_code)
        await then()
        return real
    return act


def answer_whole(body: bytes) -> Action:
    """A server that ignores ``Range``: 200 with the whole object (the real one is asked and
    must agree to the range, so the request itself was right)."""
    async def act(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        real = await inner.handle_async_request(request)
        await real.aclose()
        assert real.status_code == 206
        return httpx.Response(200, headers={"content-length": str(len(body)),
                                            "etag": real.headers.get("etag", "")},
                              stream=httpx.ByteStream(body))  # unread, as a server's
    return act


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def make_store(backend: str, moto: Moto, azurite: Azurite, faults: Faults) -> ObjectStore:
    from cachetui.store.azblob import AzblobStore
    from cachetui.store.s3 import S3Store

    if backend == "s3":
        bucket = unique_name()
        moto.client().create_bucket(Bucket=bucket)
        return S3Store(s3_settings(moto, bucket), transport=faults)
    return AzblobStore(az_settings(azurite, unique_name()), transport=faults)


async def stored_blob(store: ObjectStore) -> tuple[Descriptor, bytes]:
    data = os.urandom(SIZE)
    descriptor = Descriptor(media_type=mt.OCI_LAYER_GZIP,
                            digest="sha256:" + hashlib.sha256(data).hexdigest(), size=SIZE)
    await store.put_blob(descriptor, _one(data))
    return descriptor, data


async def blob_behind_faults(backend: str, moto: Moto, azurite: Azurite
                             ) -> tuple[Faults, ObjectStore, Descriptor, bytes]:
    """A store on a fresh bucket/container behind a fault transport, holding one blob."""
    faults = Faults(inner=httpx.AsyncHTTPTransport())
    store = make_store(backend, moto, azurite, faults)
    descriptor, data = await stored_blob(store)
    return faults, store, descriptor, data


def blob_gets(faults: Faults, descriptor: Descriptor) -> list[httpx.Request]:
    return [r for r in faults.seen
            if r.method == "GET" and descriptor.digest[7:] in str(r.url)]


@pytest.mark.parametrize("backend", ["s3", "azblob"])
async def test_a_cut_download_resumes_from_the_last_byte_with_range_and_if_match(
        backend: str, moto: Moto, azurite: Azurite) -> None:
    faults, store, descriptor, data = await blob_behind_faults(backend, moto, azurite)
    faults.add("GET", descriptor.digest[7:], cut_after(CUT))
    back = b"".join([chunk async for chunk in store.open_blob(descriptor)])  # verified
    assert back == data
    first, second = blob_gets(faults, descriptor)
    assert "range" not in first.headers
    # Only whole 1 MiB chunks were handed over before the cut: the rest is asked for again.
    assert second.headers["range"] == f"bytes={1024 * 1024}-"
    assert second.headers["if-match"]
    await store.aclose()


@pytest.mark.parametrize("backend", ["s3", "azblob"])
async def test_a_server_that_ignores_range_gets_the_whole_object_skipped_to_the_offset(
        backend: str, moto: Moto, azurite: Azurite) -> None:
    faults, store, descriptor, data = await blob_behind_faults(backend, moto, azurite)
    faults.add("GET", descriptor.digest[7:], cut_after(2 * CUT))
    faults.add("GET", descriptor.digest[7:], answer_whole(data))
    back = b"".join([chunk async for chunk in store.open_blob(descriptor)])
    assert back == data
    assert [r.headers.get("range") for r in blob_gets(faults, descriptor)] == [
        None, f"bytes={2 * 1024 * 1024}-"]
    await store.aclose()


@pytest.mark.parametrize("backend", ["s3", "azblob"])
async def test_a_blob_changed_between_cut_and_resume_is_moved_again_from_the_start(
        backend: str, moto: Moto, azurite: Azurite, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The validator moved (the object was rewritten between the cut and the resume): the
    resume answers 412 and the transfer's blob retry starts the whole blob over rather than
    mixing two versions; the blob it delivers verifies."""
    monkeypatch.setattr(transfer, "BLOB_RETRY_DELAY", 0.0)
    faults, store, descriptor, data = await blob_behind_faults(backend, moto, azurite)
    key = store.layout.blob_key(descriptor.digest)

    async def garble() -> None:
        await store.backend.put(key, _one(data[::-1]), len(data), lambda: None)

    async def restore() -> None:
        await store.backend.put(key, _one(data), len(data), lambda: None)

    statuses: list[int] = []
    faults.add("GET", descriptor.digest[7:], cut_after(CUT, then=garble))
    faults.add("GET", descriptor.digest[7:], forward_then(restore, statuses))
    target = LayoutStore(tmp_path / "out", create=True)
    await transfer.transfer_blobs(store, target, [descriptor], sink=no_progress,
                                  cancel=CancelToken())
    back = b"".join([chunk async for chunk in target.open_blob(descriptor)])  # verified
    assert back == data
    gets = blob_gets(faults, descriptor)
    assert [r.headers.get("range") for r in gets] == [None, f"bytes={1024 * 1024}-", None]
    assert gets[1].headers["if-match"]
    assert statuses == [412]
    await store.aclose()


@pytest.mark.parametrize("backend", ["s3", "azblob"])
async def test_a_manifest_rewritten_during_a_resumed_read_is_read_again_whole(
        backend: str, moto: Moto, azurite: Azurite) -> None:
    faults = Faults(inner=httpx.AsyncHTTPTransport())
    store = make_store(backend, moto, azurite, faults)
    old = b'{"layers":[],"records":[]}' + b" " * (2 * 1024 * 1024)
    new = b'{"records":[],"layers":[]}' + b"\n" * (2 * 1024 * 1024)
    key = store.layout.manifest_key("main")
    await store.backend.put(key, _one(old), len(old), lambda: None)

    async def rewrite() -> None:
        await store.backend.put(key, _one(new), len(new), lambda: None)

    faults.add("GET", "manifests/main", cut_after(CUT, then=rewrite))
    assert await store.read_annotated("main") == new
    gets = [r for r in faults.seen if r.method == "GET" and "manifests/main" in str(r.url)]
    assert ["range" in r.headers for r in gets] == [False, True, False]
    await store.aclose()


async def test_a_wrong_resumed_body_fails_the_digest_over_both_answers(
        moto: Moto, azurite: Azurite) -> None:
    """The running hash covers bytes from both answers: a wrong resumed body fails the digest."""
    faults, store, descriptor, _ = await blob_behind_faults("s3", moto, azurite)

    async def garbled(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        real = await inner.handle_async_request(request)
        body = await httpx.Response(200, stream=real.stream).aread()
        return httpx.Response(real.status_code, headers=real.headers,
                              stream=httpx.ByteStream(bytes([body[0] ^ 1]) + body[1:]))

    faults.add("GET", descriptor.digest[7:], cut_after(CUT))
    faults.add("GET", descriptor.digest[7:], garbled)
    with pytest.raises(DigestMismatch):
        async for _ in store.open_blob(descriptor):
            pass
    await store.aclose()


async def test_a_blob_stored_with_a_content_encoding_is_read_as_stored(moto: Moto) -> None:
    """A gzip layer uploaded with ``Content-Encoding: gzip`` (some uploaders set it) is its
    stored bytes: never inflated on the way, so its digest verifies."""
    import gzip

    from cachetui.store.s3 import S3Store

    bucket = unique_name()
    moto.client().create_bucket(Bucket=bucket)
    data = gzip.compress(os.urandom(300_000))
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    moto.client().put_object(Bucket=bucket, Key=f"blobs/{digest}", Body=data,
                             ContentEncoding="gzip")
    store = S3Store(s3_settings(moto, bucket))
    descriptor = Descriptor(media_type=mt.OCI_LAYER_GZIP, digest=digest, size=len(data))
    assert b"".join([chunk async for chunk in store.open_blob(descriptor)]) == data
    await store.aclose()

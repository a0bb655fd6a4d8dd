"""Large blob uploads against the real registry: streamed PATCH chunks, and what happens when one
breaks (the upload is cancelled and the transfer re-sends the blob from a re-opened source)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cachetui.errors import DigestMismatch, RegistryError
from cachetui.oci.digest import Digest
from cachetui.oci.models import Descriptor
from cachetui.ops import transfer
from cachetui.ops.progress import CancelToken
from cachetui.ops.transfer import BlobAction, transfer_blob, transfer_blobs
from cachetui.store.base import CHUNK_SIZE
from cachetui.store.layout import LayoutStore
from cachetui.store.registry import RegistrySession
from tests.fault_transport import Action, Faults, status
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, unique_repo

DATA = os.urandom(5 * CHUNK_SIZE + 4321)
DESCRIPTOR = Descriptor(media_type="application/octet-stream", digest=Digest.of(DATA),
                        size=len(DATA))
SETTINGS = {"monolithic_limit": CHUNK_SIZE, "upload_chunk": 2 * CHUNK_SIZE}


async def pieces(data: bytes, size: int = 700_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def reset_after(count: int) -> Action:
    """Take ``count`` bytes of the request body, then break the connection."""
    async def act(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        taken = 0
        stream = request.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        async for part in stream:
            taken += len(part)
            if taken >= count:
                break
        raise httpx.WriteError("connection reset by peer")
    return act


async def test_a_large_blob_goes_up_in_contiguous_streamed_patches(
        registry: RunningRegistry) -> None:
    faults = Faults()
    async with RegistrySession(fast_settings(**SETTINGS), transport=faults) as session:
        store = session.store(registry.host, unique_repo("patches"))
        await store.put_blob(DESCRIPTOR, pieces(DATA))
        patches = [r for r in faults.seen if r.method == "PATCH"]
        ranges = [r.headers["content-range"] for r in patches]
        chunk = 2 * CHUNK_SIZE
        assert ranges == [f"{start}-{min(start + chunk, len(DATA)) - 1}"
                          for start in range(0, len(DATA), chunk)]
        assert [int(r.headers["content-length"]) for r in patches] == [
            min(chunk, len(DATA) - start) for start in range(0, len(DATA), chunk)]
        [put] = [r for r in faults.seen if r.method == "PUT"]
        assert put.headers["content-length"] == "0"
        assert put.url.params["digest"] == DESCRIPTOR.digest
        assert b"".join([p async for p in store.open_blob(DESCRIPTOR)]) == DATA


@pytest.mark.parametrize("surplus", [-1, +1])
async def test_a_source_of_the_wrong_size_is_refused_and_the_upload_cancelled(
        registry: RunningRegistry, surplus: int) -> None:
    data = DATA[:-1] if surplus < 0 else DATA + b"x"
    faults = Faults()
    async with RegistrySession(fast_settings(**SETTINGS), transport=faults) as session:
        store = session.store(registry.host, unique_repo("wrong-size"))
        with pytest.raises(DigestMismatch, match=r"size|more bytes"):
            await store.put_blob(DESCRIPTOR, pieces(data))
        assert faults.count("DELETE", "/blobs/uploads/") == 1
        assert faults.count("PUT", "/blobs/uploads/") == 0
        assert await store.blob_size(DESCRIPTOR.blob_digest) is None


@pytest.fixture
def source(tmp_path: Path) -> LayoutStore:
    blobs = tmp_path / "src" / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (blobs / DESCRIPTOR.digest.removeprefix("sha256:")).write_bytes(DATA)
    return LayoutStore(tmp_path / "src")


@pytest.mark.parametrize("fault", ["reset", "503"])
async def test_a_broken_patch_sends_the_whole_blob_again(
        registry: RunningRegistry, source: LayoutStore, fault: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "BLOB_RETRY_DELAY", 0.01)
    faults = Faults()
    # The second PATCH breaks: the first chunk was already accepted by the registry.
    action = reset_after(CHUNK_SIZE) if fault == "reset" else status(503)
    progress: list[int] = []
    async with RegistrySession(fast_settings(**SETTINGS), transport=faults) as session:
        store = session.store(registry.host, unique_repo("retry-blob"))
        original = faults.handle_async_request
        patches = 0

        async def second_patch_fails(request: httpx.Request) -> httpx.Response:
            nonlocal patches
            if request.method == "PATCH":
                patches += 1
                if patches == 2:
                    faults.seen.append(request)
                    return await action(request, faults.inner)
            return await original(request)

        monkeypatch.setattr(faults, "handle_async_request", second_patch_fails)
        done = await transfer_blob(source, store, DESCRIPTOR, cancel=CancelToken(),
                                   on_bytes=progress.append)
        assert done is BlobAction.COPY
        assert faults.count("DELETE", "/blobs/uploads/") == 1  # the broken session let go
        assert faults.count("POST", "/blobs/uploads/") == 2  # and a new one started
        assert sum(progress) == len(DATA)  # bytes of the failed try were taken back
        assert b"".join([p async for p in store.open_blob(DESCRIPTOR)]) == DATA


@pytest.mark.parametrize(("code", "tries"), [(503, transfer.BLOB_ATTEMPTS), (400, 1)])
async def test_a_blob_whose_chunks_keep_failing_is_tried_again_only_for_transient_errors(
        registry: RunningRegistry, source: LayoutStore, monkeypatch: pytest.MonkeyPatch,
        code: int, tries: int) -> None:
    monkeypatch.setattr(transfer, "BLOB_RETRY_DELAY", 0.01)
    faults = Faults()
    faults.add("PATCH", "/blobs/uploads/", status(code), times=100)
    async with RegistrySession(fast_settings(**SETTINGS), transport=faults) as session:
        store = session.store(registry.host, unique_repo("keeps-failing"))
        with pytest.raises(RegistryError) as raised:
            await transfer_blob(source, store, DESCRIPTOR, cancel=CancelToken(),
                                on_bytes=lambda _: None)
        assert raised.value.status == code
        assert faults.count("PATCH", "/blobs/uploads/") == tries
        assert faults.count("DELETE", "/blobs/uploads/") == tries  # every session let go
        assert await store.blob_size(DESCRIPTOR.blob_digest) is None


async def test_a_copy_within_one_registry_that_refuses_mounts_streams_under_a_tight_limit(
        registry: RunningRegistry, source: LayoutStore) -> None:
    """Downloads do not hold a request slot while their body is consumed, so uploads fed by
    them always get one: 4 blobs at a time under a per-registry limit of 2 finish, not hang."""
    blobs = [os.urandom(3 * CHUNK_SIZE + i) for i in range(4)]
    descriptors = [Descriptor(media_type="application/octet-stream", digest=Digest.of(blob),
                              size=len(blob)) for blob in blobs]
    faults = Faults()
    faults.add("POST", "mount=", status(405), times=100)  # no cross-repository mounts here
    settings = fast_settings(monolithic_limit=CHUNK_SIZE // 2, upload_chunk=CHUNK_SIZE // 2,
                             concurrency={registry.host: 2})
    async with RegistrySession(settings, transport=faults) as session:
        origin = session.store(registry.host, unique_repo("origin"))
        for blob, descriptor in zip(blobs, descriptors, strict=True):
            await origin.put_blob(descriptor, pieces(blob))
        target = session.store(registry.host, unique_repo("target"))
        actions = await asyncio.wait_for(transfer_blobs(
            origin, target, descriptors, sink=lambda _: None, cancel=CancelToken(),
            concurrency=4), timeout=30)
        assert set(actions.values()) == {BlobAction.COPY}
        assert faults.count("POST", "mount=") == 4
        for blob, descriptor in zip(blobs, descriptors, strict=True):
            assert b"".join([p async for p in target.open_blob(descriptor)]) == blob


async def test_a_429_on_a_chunk_waits_as_long_as_the_registry_asks(
        registry: RunningRegistry, source: LayoutStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "BLOB_RETRY_DELAY", 0.01)
    faults = Faults()
    faults.add("PATCH", "/blobs/uploads/", status(429, {"Retry-After": "1"}), times=1)
    async with RegistrySession(fast_settings(**SETTINGS), transport=faults) as session:
        store = session.store(registry.host, unique_repo("slow-down"))
        started = time.monotonic()
        done = await transfer_blob(source, store, DESCRIPTOR, cancel=CancelToken(),
                                   on_bytes=lambda _: None)
        assert done is BlobAction.COPY
        assert time.monotonic() - started >= 1.0
        assert faults.count("POST", "/blobs/uploads/") == 2


def test_blob_retry_delays_back_off_with_jitter_and_cap_retry_after() -> None:
    assert transfer.blob_retry_delay(1, 5.0) == 5.0
    assert transfer.blob_retry_delay(1, 3600.0) == transfer.MAX_RETRY_AFTER
    for attempt in (1, 2, 3):
        base = transfer.BLOB_RETRY_DELAY * 2 ** (attempt - 1)
        assert base / 2 <= transfer.blob_retry_delay(attempt, None) <= base

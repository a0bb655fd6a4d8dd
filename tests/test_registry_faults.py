"""Faults injected by an httpx transport in front of the real registry connection.

Each fault ends in the right retry or a clear error, and nothing corrupt is ever handed over.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from cachetui.errors import DigestMismatch, NetworkError, RegistryError, TooLarge
from cachetui.oci.digest import Digest
from cachetui.oci.models import Descriptor
from cachetui.store.base import CHUNK_SIZE
from cachetui.store.registry import RegistrySession, RegistryStore
from cachetui.store.registry.retry import RetryPolicy
from tests.fault_transport import Action, Faults, status
from tests.fixtures import fixture_dir
from tests.registry_procs import RunningRegistry, free_port
from tests.registry_server import credentials, fast_settings, push_layout, unique_repo


class CutStream(httpx.AsyncByteStream):
    """Passes ``limit`` bytes of a real body, then fails (``reset``) or just ends (truncated)."""

    def __init__(self, inner: httpx.AsyncByteStream, limit: int, *, reset: bool,
                 corrupt: bool = False) -> None:
        self.inner, self.limit, self.reset, self.corrupt = inner, limit, reset, corrupt

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        async for piece in self.inner:
            if self.corrupt:
                piece = bytes([piece[0] ^ 0xFF]) + piece[1:] if sent == 0 else piece
            elif sent + len(piece) > self.limit:
                piece = piece[: self.limit - sent]
            if piece:
                yield piece
            sent += len(piece)
            if not self.corrupt and sent >= self.limit:
                break
        if self.reset:
            raise httpx.ReadError("connection reset by peer")

    async def aclose(self) -> None:
        await self.inner.aclose()


def cut(limit: int, *, reset: bool, corrupt: bool = False) -> Action:
    async def act(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        real = await inner.handle_async_request(request)
        assert isinstance(real.stream, httpx.AsyncByteStream)
        return httpx.Response(real.status_code, headers=real.headers,
                              stream=CutStream(real.stream, limit, reset=reset, corrupt=corrupt))
    return act


def header(name: str, value: str) -> Action:
    async def act(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        real = await inner.handle_async_request(request)
        headers = httpx.Headers(real.headers)
        headers[name] = value
        assert isinstance(real.stream, httpx.AsyncByteStream)
        return httpx.Response(real.status_code, headers=headers, stream=real.stream)
    return act


BLOB = os.urandom(3 * CHUNK_SIZE + 12345)
BLOB_DESCRIPTOR = Descriptor(media_type="application/octet-stream", digest=Digest.of(BLOB),
                             size=len(BLOB))


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.fixture
async def repo(registry: RunningRegistry) -> str:
    """A repository with the min cache as tag ``cache`` and a 3 MiB blob."""
    name = unique_repo("faults")
    async with RegistrySession(fast_settings()) as session:
        store = session.store(registry.host, name)
        await push_layout(store, fixture_dir("buildkit-registry", "app-buildcache-min"), "cache",
                          "buildcache-min")
        await store.put_blob(BLOB_DESCRIPTOR, _one(BLOB))
    return name


def _store(session: RegistrySession, registry: RunningRegistry, repo: str) -> RegistryStore:
    return session.store(registry.host, repo)


async def test_429_waits_for_retry_after(registry: RunningRegistry, repo: str) -> None:
    faults = Faults()
    faults.add("GET", "/manifests/cache", status(429, {"Retry-After": "1"}))
    async with RegistrySession(fast_settings(), transport=faults) as session:
        started = time.monotonic()
        top = await _store(session, registry, repo).get_manifest("cache")
        elapsed = time.monotonic() - started
    assert top.digest.startswith("sha256:970ea1a3")
    assert faults.count("GET", "/manifests/cache") == 2
    assert elapsed >= 0.19  # Retry-After (capped at 0.2 s in tests), not the 5 ms backoff


async def test_503_bursts_retry_then_give_up(registry: RunningRegistry, repo: str) -> None:
    faults = Faults()
    faults.add("GET", "/tags/list", status(503), times=3)
    async with RegistrySession(fast_settings(), transport=faults) as session:
        assert await _store(session, registry, repo).list_tags() == ["cache"]
        faults.add("GET", "/tags/list", status(503), times=10)
        with pytest.raises(RegistryError, match="HTTP 503") as info:
            await _store(session, registry, repo).list_tags()
    assert info.value.status == 503


async def test_503_on_upload_and_manifest_put_retried(registry: RunningRegistry) -> None:
    faults = Faults()
    faults.add("POST", "/blobs/uploads/", status(503), times=2)
    faults.add("PUT", "/manifests/", status(502), times=2)
    async with RegistrySession(fast_settings(), transport=faults) as session:
        store = session.store(registry.host, unique_repo("upload503"))
        top = await push_layout(store, fixture_dir("buildkit-registry", "app-buildcache-min"),
                                "cache", "buildcache-min")
        assert (await store.get_manifest("cache")).raw == top.raw


@pytest.mark.parametrize("reset", [True, False], ids=["reset", "truncated"])
async def test_broken_blob_download_resumes_with_range(registry: RunningRegistry, repo: str,
                                                       reset: bool) -> None:
    faults = Faults()
    faults.add("GET", f"/blobs/{BLOB_DESCRIPTOR.digest}", cut(CHUNK_SIZE + 777, reset=reset))
    async with RegistrySession(fast_settings(), transport=faults) as session:
        chunks = [c async for c in _store(session, registry, repo).open_blob(BLOB_DESCRIPTOR)]
    assert b"".join(chunks) == BLOB
    ranges = [r.headers.get("range") for r in faults.seen if BLOB_DESCRIPTOR.digest in str(r.url)]
    assert ranges == [None, f"bytes={CHUNK_SIZE + 777}-"]


async def test_truncated_manifest_is_retried(registry: RunningRegistry, repo: str) -> None:
    faults = Faults()
    faults.add("GET", "/manifests/cache", cut(100, reset=False))
    async with RegistrySession(fast_settings(), transport=faults) as session:
        top = await _store(session, registry, repo).get_manifest("cache")
    assert top.digest.startswith("sha256:970ea1a3")
    assert faults.count("GET", "/manifests/cache") == 2


async def test_corrupt_blob_never_handed_over_whole(registry: RunningRegistry, repo: str) -> None:
    faults = Faults()
    faults.add("GET", f"/blobs/{BLOB_DESCRIPTOR.digest}", cut(0, reset=False, corrupt=True))
    received: list[bytes] = []

    async def drain(session: RegistrySession) -> None:
        async for chunk in _store(session, registry, repo).open_blob(BLOB_DESCRIPTOR):
            received.append(chunk)

    async with RegistrySession(fast_settings(), transport=faults) as session:
        with pytest.raises(DigestMismatch):
            await drain(session)
    assert sum(map(len, received)) < len(BLOB)  # the last chunk was held back


async def test_wrong_docker_content_digest(registry: RunningRegistry, repo: str) -> None:
    faults = Faults()
    faults.add("GET", "/manifests/cache", header("Docker-Content-Digest", "sha256:" + "0" * 64))
    async with RegistrySession(fast_settings(), transport=faults) as session:
        with pytest.raises(DigestMismatch, match="Docker-Content-Digest"):
            await _store(session, registry, repo).get_manifest("cache")


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
async def test_manifest_over_4_mib(registry: RunningRegistry, repo: str, declared: bool) -> None:
    huge = b'{"schemaVersion":2,"pad":"' + b"x" * (4 * 1024 * 1024) + b'"}'

    async def act(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            for start in range(0, len(huge), CHUNK_SIZE):
                yield huge[start:start + CHUNK_SIZE]
        headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        if declared:
            return httpx.Response(200, headers=headers, content=huge)
        return httpx.Response(200, headers=headers, content=body())

    faults = Faults()
    faults.add("GET", "/manifests/cache", act)
    async with RegistrySession(fast_settings(), transport=faults) as session:
        with pytest.raises(TooLarge, match="limit"):
            await _store(session, registry, repo).get_manifest("cache")


async def test_unreachable_host_retries_then_fails() -> None:
    faults = Faults()
    host = f"127.0.0.1:{free_port()}"
    settings = fast_settings(retry=RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002))
    async with RegistrySession(settings, transport=faults) as session:
        with pytest.raises(NetworkError, match="cannot connect"):
            await session.store(host, "nothing").list_tags()
    assert len(faults.seen) == 3


async def test_tls_failures_and_ca_file(registry_tls: RunningRegistry,
                                        registry: RunningRegistry) -> None:
    assert registry_tls.ca_file is not None
    host = registry_tls.host
    untrusted = fast_settings(tls_hosts=frozenset({host}))
    async with RegistrySession(untrusted) as session:
        with pytest.raises(NetworkError, match=r"TLS connection failed.*certificate"):
            await session.ping(host)
    trusted = fast_settings(tls_hosts=frozenset({host}), ca_files={host: str(registry_tls.ca_file)})
    async with RegistrySession(trusted) as session:
        await session.ping(host)
    plain = fast_settings(tls_hosts=frozenset({registry.host}))
    async with RegistrySession(plain) as session:
        with pytest.raises(NetworkError, match="TLS connection failed"):
            await session.ping(registry.host)


async def test_credentials_not_sent_after_cross_host_redirect(registry_basic: RunningRegistry
                                                              ) -> None:
    host = registry_basic.host
    port = host.rsplit(":", 1)[1]
    other_origin = f"localhost:{port}"
    stash: dict[str, str] = {}

    async def redirect(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        stash["auth"] = request.headers.get("authorization", "")
        target = request.url.copy_with(host="localhost")
        return httpx.Response(307, headers={"Location": str(target)})

    faults = Faults()
    async with RegistrySession(fast_settings(credentials=credentials("alice", "alice-secret")),
                               transport=faults, credential_lookup=lambda _: None) as session:
        store = session.store(host, unique_repo("redirect"))
        top = await push_layout(store, fixture_dir("buildkit-registry", "app-buildcache-min"),
                                "cache", "buildcache-min")
        config = top.children()[0]

        async def storage(request: httpx.Request, inner: httpx.AsyncBaseTransport
                          ) -> httpx.Response:
            stash["redirected_auth"] = request.headers.get("authorization", "<none>")
            forwarded = httpx.Request("GET", request.url.copy_with(host="127.0.0.1"),
                                      headers={"Authorization": stash["auth"]})
            return await inner.handle_async_request(forwarded)

        faults.add("GET", f"{host}/v2/{store.repository}/blobs/{config.digest}", redirect)
        faults.add("GET", f"{other_origin}/v2/", storage)
        data = await store.read_blob(config)
    assert Digest.of(data) == config.digest
    assert stash["auth"].startswith("Basic ")
    assert stash["redirected_auth"] == "<none>"

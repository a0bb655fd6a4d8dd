"""Listing with Link pagination, deletes, and unsupported operations on the real registry."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from cachetui.errors import NotFound, UnsupportedOperation
from cachetui.store.registry import RegistrySession
from tests.fixtures import fixture_dir
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, push_layout, unique_repo


class PagedTags(httpx.AsyncBaseTransport):
    """Serves ``tags/list`` in pages of ``size`` with ``Link`` headers (2.8 ignores ``n``).

    The real answer comes from the registry; this only cuts it, as newer registries do.
    """

    def __init__(self, size: int, *, absolute: bool) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.size = size
        self.absolute = absolute
        self.pages = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/tags/list"):
            return await self.inner.handle_async_request(request)
        last = request.url.params.get("last")
        plain = httpx.Request("GET", request.url.copy_with(query=None), headers=request.headers)
        response = await self.inner.handle_async_request(plain)
        body = json.loads(await response.aread())
        tags = sorted(body["tags"])
        start = tags.index(last) + 1 if last else 0
        page = tags[start:start + self.size]
        headers = {"Content-Type": "application/json"}
        if start + self.size < len(tags):
            link = f"{request.url.path}?n={self.size}&last={page[-1]}"
            if self.absolute:
                link = f"{request.url.scheme}://{request.url.netloc.decode()}{link}"
            headers["Link"] = f'<{link}>; rel="next"'
        self.pages += 1
        return httpx.Response(200, headers=headers,
                              content=json.dumps({"name": body["name"], "tags": page}).encode())

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _fill(session: RegistrySession, host: str, repo: str, tags: list[str]) -> None:
    store = session.store(host, repo)
    for tag in tags:
        await push_layout(store, fixture_dir("buildkit-registry", "app-buildcache-min"), tag,
                          "buildcache-min")


@pytest.mark.parametrize("absolute", [False, True])
async def test_tag_listing_follows_link_pages(registry: RunningRegistry, absolute: bool) -> None:
    repo = unique_repo("paged")
    tags = [f"t{i:02d}" for i in range(7)]
    async with RegistrySession(fast_settings()) as session:
        await _fill(session, registry.host, repo, tags)
    transport = PagedTags(3, absolute=absolute)
    async with RegistrySession(fast_settings(), transport=transport) as session:
        assert await session.store(registry.host, repo).list_tags() == tags
    assert transport.pages == 3


async def test_catalog_pages_with_n(registry: RunningRegistry) -> None:
    repos = [unique_repo("cat") for _ in range(5)]
    async with RegistrySession(fast_settings()) as session:
        for repo in repos:
            await _fill(session, registry.host, repo, ["x"])
        whole = await session.catalog(registry.host)
        paged = await session.catalog(registry.host, page_size=2)
    assert set(repos) <= set(whole)
    assert paged == whole


async def test_delete_manifest_removes_every_tag_on_it(registry: RunningRegistry) -> None:
    repo = unique_repo("del")
    async with RegistrySession(fast_settings()) as session:
        await _fill(session, registry.host, repo, ["a", "b"])
        store = session.store(registry.host, repo)
        digest = (await store.resolve("a")).digest
        await store.delete_manifest(digest)  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            await store.get_manifest("b")


async def test_tag_delete_unsupported_on_distribution_2(registry: RunningRegistry) -> None:
    repo = unique_repo("tagdel")
    async with RegistrySession(fast_settings()) as session:
        await _fill(session, registry.host, repo, ["a"])
        store = session.store(registry.host, repo)
        with pytest.raises(UnsupportedOperation, match="cannot delete a tag alone"):
            await store.delete_tag("a")
        assert await store.list_tags() == ["a"]


async def test_delete_disabled_is_unsupported(registry_nodelete: RunningRegistry) -> None:
    repo = unique_repo("nodel")
    async with RegistrySession(fast_settings()) as session:
        await _fill(session, registry_nodelete.host, repo, ["a"])
        store = session.store(registry_nodelete.host, repo)
        digest = (await store.resolve("a")).digest
        with pytest.raises(UnsupportedOperation, match="does not allow deleting") as info:
            await store.delete_manifest(digest)  # type: ignore[arg-type]
        assert getattr(info.value, "code", None) == "UNSUPPORTED"
        assert await store.list_tags() == ["a"]


async def test_small_blobs_are_hashed_without_a_thread_and_still_verified(
        registry: RunningRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    """A config-sized blob is hashed on the event loop (a thread hand-off per config was a
    measurable share of a listing); a large one still goes to a thread; both are verified."""
    import asyncio

    from cachetui.errors import DigestMismatch
    from cachetui.oci.digest import Digest
    from cachetui.oci.models import Descriptor
    from cachetui.store.registry import client as client_module

    hops: list[int] = []
    real = asyncio.to_thread

    async def counted(func: object, *args: object, **kwargs: object) -> object:
        hops.append(1)
        return await real(func, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(asyncio, "to_thread", counted)
    small = b'{"layers":[],"records":[]}' * 100
    big = bytes(range(256)) * 2048  # 512 KiB: over the inline limit, under a chunk
    assert len(big) > client_module.INLINE_HASH_BYTES
    async with RegistrySession(fast_settings()) as session:
        store = session.store(registry.host, unique_repo("hash"))
        for data in (small, big):
            descriptor = Descriptor(media_type="application/octet-stream",
                                    digest=Digest.of(data), size=len(data))

            async def once(data: bytes = data) -> AsyncIterator[bytes]:
                yield data

            await store.put_blob(descriptor, once())
        hops.clear()
        small_d = Descriptor(media_type="application/octet-stream", digest=Digest.of(small),
                             size=len(small))
        assert await store.read_blob(small_d) == small
        assert hops == []
        big_d = Descriptor(media_type="application/octet-stream", digest=Digest.of(big),
                           size=len(big))
        assert await store.read_blob(big_d, limit=len(big)) == big
        assert hops
        short = Descriptor(media_type="application/octet-stream", digest=Digest.of(small),
                           size=len(small) - 1)
        with pytest.raises(DigestMismatch):
            await store.read_blob(short)

"""Inventory over a registry costs one manifest request per tag and one config per manifest."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from cachetui.locations import Workspace
from cachetui.ops.gather import gather
from cachetui.ops.inventory import collect, scan_store
from cachetui.ops.load import DocumentMemo
from cachetui.store.registry import RegistrySession
from tests.fixtures import fixture_dir
from tests.registry_procs import RunningRegistry, free_port
from tests.registry_server import fast_settings, push_layout, unique_repo

LAYOUTS = {"app-buildcache-max": "buildcache-max", "app-inline": "inline",
           "app-latest": "latest"}


class Counting(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.calls: Counter[tuple[str, str]] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        kind = "manifest" if "/manifests/" in path else "blob" if "/blobs/" in path else path
        self.calls[(request.method, kind)] += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _fill(host: str, repo: str, copies: int) -> None:
    async with RegistrySession(fast_settings()) as session:
        store = session.store(host, repo)
        for name, source in LAYOUTS.items():
            for i in range(copies):
                await push_layout(store, fixture_dir("buildkit-registry", name), f"{source}-{i}",
                                  source)


async def test_scan_counts_requests(registry: RunningRegistry) -> None:
    repo = unique_repo("inv")
    await _fill(registry.host, repo, copies=4)
    counting = Counting()
    async with RegistrySession(fast_settings(), transport=counting) as session:
        entries, errors, _ = await collect(scan_store(session.store(registry.host, repo)))
    assert errors == []
    assert len(entries) == 12
    assert all(entry.analysis is not None for entry in entries)
    assert counting.calls == Counter({
        ("GET", f"/v2/{repo}/tags/list"): 1,
        ("GET", "manifest"): 12,  # one per tag, no HEAD first
        ("GET", "blob"): 3,  # one config per distinct manifest, though tags are read at once
    })


async def test_registry_wide_scan_streams_every_repository(registry: RunningRegistry) -> None:
    repos = [unique_repo("wide"), unique_repo("wide")]
    for repo in repos:
        await _fill(registry.host, repo, copies=1)
    counting = Counting()
    memo = DocumentMemo()
    async with RegistrySession(fast_settings(), transport=counting) as session:
        found = await gather(Workspace(registry_session=session), [registry.host], memo=memo)
    rows = {(entry.source, entry.tag) for entry in found.entries if entry.analysis is not None}
    for repo in repos:
        assert {(f"{registry.host}/{repo}", tag) for tag in
                ("buildcache-max-0", "inline-0", "latest-0")} <= rows
    assert found.errors == []
    # the same three manifests in every repository: classified once for the whole registry
    assert len(memo) >= 3
    assert counting.calls[("GET", "blob")] <= len(memo)


async def test_registry_wide_scan_reports_a_refused_catalog() -> None:
    host = f"127.0.0.1:{free_port()}"
    async with RegistrySession(fast_settings()) as session:
        found = await gather(Workspace(registry_session=session), [host])
    assert found.entries == [] and len(found.errors) == 1
    assert "cannot connect" in found.errors[0]


def test_a_catalog_repository_without_tags_is_empty_not_an_error(
        registry: RunningRegistry, capsys: pytest.CaptureFixture[str]) -> None:
    """distribution answers NAME_UNKNOWN for a repository that has blobs but no tag."""
    from cachetui.cli import main
    from cachetui.errors import NotFound
    from cachetui.oci.digest import Digest
    from cachetui.oci.models import Descriptor

    repo = unique_repo("tagless")
    data = b"a blob and no manifest"
    descriptor = Descriptor(media_type="application/octet-stream", digest=Digest.of(data),
                            size=len(data))

    async def setup_and_list() -> None:
        async def once() -> AsyncIterator[bytes]:
            yield data

        async with RegistrySession(fast_settings()) as session:
            await session.store(registry.host, repo).put_blob(descriptor, once())
            assert repo in await session.catalog(registry.host)
            assert await session.store(registry.host, repo, listed=True).list_tags() == []
            with pytest.raises(NotFound):  # named by a user, there is nothing to list
                await session.store(registry.host, repo).list_tags()

    asyncio.run(setup_and_list())
    main(["ls", "--json", registry.host])
    assert repo not in capsys.readouterr().err

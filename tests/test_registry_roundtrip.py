"""Real BuildKit caches pushed into a real registry come back byte-identical and correctly classified."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest

from cachetui.buildkit.document import CacheFormat
from cachetui.errors import NotFound
from cachetui.oci.digest import Digest
from cachetui.oci.models import Descriptor
from cachetui.oci.reference import parse_reference
from cachetui.ops.inventory import collect, scan_store
from cachetui.ops.load import DocumentMemo
from cachetui.store.base import CHUNK_SIZE
from cachetui.store.layout import LayoutStore
from cachetui.store.registry import RegistrySession
from tests.fixtures import expected, fixture_dir, layout_names
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, push_layout, unique_repo

REGISTRY_FORMATS = {
    "app-buildcache": CacheFormat.IMAGE_MANIFEST,
    "app-buildcache-max": CacheFormat.IMAGE_MANIFEST,
    "app-buildcache-max-docker-mediatypes": CacheFormat.DOCKER_LIST,
    "app-buildcache-max-oci-index": CacheFormat.INDEX,
    "app-buildcache-max-zstd": CacheFormat.IMAGE_MANIFEST,
    "app-buildcache-min": CacheFormat.IMAGE_MANIFEST,
    "app-buildcache-min-image-manifest": CacheFormat.IMAGE_MANIFEST,
    "app-inline": CacheFormat.INLINE,
    "app-latest": CacheFormat.IMAGE,
}
LOCAL_SAMPLE = ["local-max", "local-min-oci-index", "local-min-docker-mediatypes",
                "local-min-uncompressed", "local-multi-tag"]


async def test_every_registry_fixture_round_trips(registry: RunningRegistry) -> None:
    assert sorted(REGISTRY_FORMATS) == layout_names("buildkit-registry")
    repo = unique_repo("roundtrip")
    facts = expected("buildkit-registry")["fixtures"]
    async with RegistrySession(fast_settings()) as session:
        store = session.repository(parse_reference(f"{registry.host}/{repo}", default_tag=False))
        for name in REGISTRY_FORMATS:
            for tag_facts in facts[name]["tags"]:
                await push_layout(store, fixture_dir("buildkit-registry", name), tag_facts["tag"])
        assert await store.list_tags() == sorted(
            t["tag"] for name in REGISTRY_FORMATS for t in facts[name]["tags"])
        for name in REGISTRY_FORMATS:
            layout = LayoutStore(fixture_dir("buildkit-registry", name))
            for tag_facts in facts[name]["tags"]:
                tag = tag_facts["tag"]
                original = await layout.get_manifest(tag)
                fetched = await store.get_manifest(tag)
                assert fetched.raw == original.raw
                assert fetched.digest == tag_facts["digest"]
                assert fetched.media_type == tag_facts["mediaType"]
                assert await store.resolve(tag) == Descriptor(
                    media_type=tag_facts["mediaType"], digest=tag_facts["digest"],
                    size=tag_facts["size"])
                by_digest = await store.get_manifest(fetched.digest)
                assert by_digest.raw == original.raw
                for child in fetched.children():
                    data = await store.read_blob(child, limit=64 * 1024 * 1024)
                    assert hashlib.sha256(data).hexdigest() == child.digest[7:]
        entries, errors, _ = await collect(scan_store(store))
    assert errors == []
    found = {entry.tag: entry for entry in entries}
    for name, form in REGISTRY_FORMATS.items():
        for tag_facts in facts[name]["tags"]:
            entry = found[tag_facts["tag"]]
            assert entry.error is None, entry.error
            assert entry.analysis is not None
            assert entry.analysis.document.format is form, name
            assert entry.digest == tag_facts["digest"]
            assert entry.analysis.layer_count == len(tag_facts["layers"])


async def test_local_layouts_round_trip(registry: RunningRegistry) -> None:
    repo = unique_repo("local")
    facts = expected("buildkit")["fixtures"]
    async with RegistrySession(fast_settings()) as session:
        store = session.store(registry.host, repo)
        pushed = {}
        for name in LOCAL_SAMPLE:
            for tag_facts in facts[name]["tags"]:
                tag = f"{name}-{tag_facts['tag']}"
                await push_layout(store, fixture_dir("buildkit", name), tag, tag_facts["tag"])
                pushed[tag] = tag_facts["digest"]
        memo = DocumentMemo()
        entries, errors, _ = await collect(scan_store(store, memo=memo))
    assert errors == []
    assert {entry.tag: entry.digest for entry in entries} == pushed
    assert all(entry.analysis is not None and entry.analysis.document.is_cache for entry in entries)


async def test_large_blob_streams_in_chunks_and_uploads_in_patches(registry: RunningRegistry) -> None:
    data = bytes(range(256)) * (5 * CHUNK_SIZE // 256) + b"tail"
    descriptor = Descriptor(media_type="application/octet-stream", digest=Digest.of(data),
                            size=len(data))

    async def chunks() -> object:
        for start in range(0, len(data), 700_000):
            yield data[start:start + 700_000]

    settings = fast_settings(monolithic_limit=CHUNK_SIZE, upload_chunk=2 * CHUNK_SIZE)
    async with RegistrySession(settings) as session:
        store = session.store(registry.host, unique_repo("big"))
        await store.put_blob(descriptor, chunks())  # type: ignore[arg-type]
        assert await store.blob_size(descriptor.blob_digest) == len(data)
        pieces = [piece async for piece in store.open_blob(descriptor)]
        assert b"".join(pieces) == data
        assert all(len(piece) >= CHUNK_SIZE for piece in pieces[:-1])
        other = session.store(registry.host, unique_repo("mounted"))
        assert await other.mount_blob(descriptor, store) is True
        assert await other.blob_size(descriptor.blob_digest) == len(data)


async def test_large_blob_with_wrong_content_is_never_committed(registry: RunningRegistry) -> None:
    """Chunked uploads leave the digest check to the registry's closing PUT: it must refuse."""
    from cachetui.errors import RegistryError

    good = bytes(range(256)) * (40 * 1024)  # 10 MiB: over the monolithic limit
    bad = bytearray(good)
    bad[-1] ^= 0xFF
    descriptor = Descriptor(media_type="application/octet-stream", digest=Digest.of(good),
                            size=len(good))

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(bad), 1024 * 1024):
            yield bytes(bad[start:start + 1024 * 1024])

    async with RegistrySession(fast_settings()) as session:
        store = session.store(registry.host, unique_repo("wrong-large"))
        with pytest.raises(RegistryError, match=r"DIGEST_INVALID|digest"):
            await store.put_blob(descriptor, pieces())
        assert await store.blob_size(descriptor.blob_digest) is None


async def test_put_blob_refuses_wrong_content(registry: RunningRegistry) -> None:
    from cachetui.errors import DigestMismatch

    good = b"hello cache"
    descriptor = Descriptor(media_type="application/octet-stream", digest=Digest.of(good),
                            size=len(good))

    async def wrong() -> object:
        yield b"hello CACHE"

    async with RegistrySession(fast_settings()) as session:
        store = session.store(registry.host, unique_repo("wrong"))
        with pytest.raises(DigestMismatch):
            await store.put_blob(descriptor, wrong())  # type: ignore[arg-type]
        assert await store.blob_size(descriptor.blob_digest) is None
        with pytest.raises(NotFound):
            await store.get_manifest("no-such-tag")

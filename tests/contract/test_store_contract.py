"""The Store contract, for every store (tests/contract/factories.py): listing order, resolve,
verified reads, verified atomic writes, skip-if-present, mount, delete semantics per capability,
read-only refusal and errors for missing things."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cachetui.errors import DigestMismatch, NotFound, ReadOnlySource
from cachetui.oci.digest import Digest
from cachetui.oci.models import Descriptor, TopObject
from cachetui.ops.copy import copy_cache
from cachetui.store.base import DeletesByDigest, Mounts, Store, Untags
from cachetui.store.layout import LayoutStore
from tests.contract.factories import OpenStore
from tests.fixtures import fixture_dir

SOURCE = ("buildkit-variants", "gzip")
"""A real BuildKit cache (image-manifest form) every store is filled from."""


def blob(data: bytes) -> Descriptor:
    return Descriptor(media_type="application/octet-stream", digest=Digest.of(data),
                      size=len(data))


class Stream:
    """A chunk stream that records whether anyone read it."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks
        self.read = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._gen()

    async def _gen(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.read = True
            yield chunk


async def fill(store: Store, *tags: str) -> TopObject:
    source = LayoutStore(fixture_dir(*SOURCE))
    for tag in tags:
        await copy_cache(source, ["latest"], store, tag)
    return await source.get_manifest("latest")


async def test_tags_are_listed_sorted_and_resolve_to_the_exact_manifest(
        open_store: OpenStore) -> None:
    store = open_store("list")
    top = await fill(store, "b-tag", "a-tag", "c-tag")
    assert await store.list_tags() == ["a-tag", "b-tag", "c-tag"]
    assert (await store.resolve("b-tag")).digest == top.digest
    by_tag = await store.get_manifest("a-tag")
    by_digest = await store.get_manifest(top.digest)
    assert by_tag.raw == by_digest.raw == top.raw
    assert Digest.of(by_tag.raw) == top.digest


async def test_missing_things_are_not_found(open_store: OpenStore) -> None:
    store = open_store("missing")
    await fill(store, "present")
    with pytest.raises(NotFound):
        await store.resolve("absent")
    with pytest.raises(NotFound):
        await store.get_manifest("absent")
    assert await store.blob_size(Digest.of(b"never written")) is None


async def test_reads_are_verified(open_store: OpenStore) -> None:
    store = open_store("reads")
    good = blob(b"the right bytes")
    await store.put_blob(good, Stream(b"the right bytes"))
    assert await store.read_blob(good) == b"the right bytes"
    assert b"".join([c async for c in store.open_blob(good)]) == b"the right bytes"
    # Same size, another digest: the store must not hand over bytes that do not match.
    wrong = Descriptor(media_type=good.media_type, digest=Digest.of(b"the wrong bytes"),
                       size=good.size)
    with pytest.raises((DigestMismatch, NotFound)):
        await store.read_blob(wrong)


async def test_writes_are_verified_before_they_become_visible(open_store: OpenStore) -> None:
    store = open_store("writes")
    declared = blob(b"declared content")
    with pytest.raises(DigestMismatch):
        await store.put_blob(declared, Stream(b"other content!!!"))
    assert await store.blob_size(declared.blob_digest) is None
    await store.put_blob(declared, Stream(b"declared ", b"content"))
    assert await store.blob_size(declared.blob_digest) == declared.size


async def test_a_blob_already_there_is_skipped_unread(open_store: OpenStore) -> None:
    store = open_store("skip")
    descriptor = blob(b"stored once")
    await store.put_blob(descriptor, Stream(b"stored once"))
    again = Stream(b"stored once")
    await store.put_blob(descriptor, again)
    assert not again.read
    assert await store.read_blob(descriptor) == b"stored once"


async def test_mount_where_the_store_can_and_a_clean_no_where_it_cannot(
        open_store: OpenStore) -> None:
    source, destination = open_store("mount-src"), open_store("mount-dst")
    descriptor = blob(b"mounted, not moved")
    await source.put_blob(descriptor, Stream(b"mounted, not moved"))
    if isinstance(destination, Mounts) and destination.can_mount_from(source):
        assert await destination.mount_blob(descriptor, source)
        assert await destination.blob_size(descriptor.blob_digest) == descriptor.size
    else:
        assert not await destination.mount_blob(descriptor, source)
        assert await destination.blob_size(descriptor.blob_digest) is None


async def test_delete_semantics_follow_the_capability(open_store: OpenStore) -> None:
    store = open_store("delete")
    top = await fill(store, "one", "two", "other")
    assert isinstance(store, Untags | DeletesByDigest)
    if isinstance(store, Untags):
        found = await store.untag([("one", top.digest), ("other", "sha256:" + "0" * 64)])
        assert found == {("one", top.digest)}  # a tag that moved is left alone
        assert await store.list_tags() == ["other", "two"]  # the same manifest stays tagged
    else:
        await store.delete_by_digest(top.digest)  # every tag on the digest goes with it
        assert await store.list_tags() == []
        with pytest.raises(NotFound):
            await store.get_manifest(top.digest)


async def test_a_read_only_store_refuses_every_write_and_changes_nothing(
        open_store: OpenStore) -> None:
    writable = open_store("frozen")
    top = await fill(writable, "kept")
    store = open_store("frozen", read_only=True)
    assert store.read_only and store.id == writable.id
    descriptor = blob(b"not written")
    with pytest.raises(ReadOnlySource):
        await store.put_blob(descriptor, Stream(b"not written"))
    with pytest.raises(ReadOnlySource):
        await store.put_manifest(top, "new-tag")
    with pytest.raises(ReadOnlySource):
        await store.delete_manifest(top.digest)
    if isinstance(store, Untags):
        with pytest.raises(ReadOnlySource):
            await store.untag([("kept", top.digest)])
    if isinstance(store, DeletesByDigest):
        with pytest.raises(ReadOnlySource):
            await store.delete_by_digest(top.digest)
    assert await store.list_tags() == ["kept"]
    assert await store.blob_size(descriptor.blob_digest) is None

"""The Store interface over a bucket of bare blobs plus annotated manifests (s3, azblob).

BuildKit's s3 and azblob backends keep one object per blob (``<blobs>/sha256:…``) and one
"manifest" object per name: the annotated cache config, with no OCI manifest and no config blob.
This store shows each name as a tag whose manifest is the OCI image manifest BuildKit's registry
exporter would write for it (``buildkit/annotated``), and serves the synthesised config blob from
memory, so inventory, copy, prune and re-export work on it unchanged. Writing goes the other way:
config blobs are held in memory, and ``put_manifest`` converts the OCI form back to the annotated
bytes BuildKit writes, after checking every blob it names is stored (never a dangling manifest).

Only the wire protocol differs between providers: :class:`ObjectBackend`.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, Protocol

from cachetui.buildkit.annotated import OciForm, annotated_to_oci, oci_to_annotated, parse_annotated
from cachetui.buildkit.document import build_document
from cachetui.errors import (
    DigestMismatch,
    InvalidInput,
    NotFound,
    ReadOnlySource,
    TooLarge,
    UnsupportedOperation,
)
from cachetui.oci import mediatypes as mt
from cachetui.oci.digest import Digest, Verifier, is_digest
from cachetui.oci.models import Descriptor, TopObject
from cachetui.store.base import CHUNK_SIZE, MAX_CONFIG_BYTES, StoreKind

MAX_MANIFEST_OBJECT: Final = 16 * 1024 * 1024
"""Largest annotated manifest we read (it is a cache config)."""

HEAD_CONCURRENCY: Final = 8
MANIFEST_READS: Final = 3
"""Reads of a manifest that keeps changing under a resumed download before giving up."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One listed object: what ListObjectsV2 / List Blobs say about it."""

    key: str
    size: int
    last_modified: datetime


class ObjectBackend(Protocol):
    """The few object operations a BuildKit cache needs, on one bucket or container."""

    @property
    def description(self) -> str:
        """``s3://bucket`` or ``azblob://account/container``, for people (no secrets)."""
        ...

    def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, all pages."""
        ...

    async def head(self, key: str) -> ObjectInfo | None:
        """The object's facts, or ``None`` if it does not exist."""
        ...

    def get(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks; :class:`NotFound` if it does not exist."""
        ...

    async def put(self, key: str, chunks: AsyncIterable[bytes], size: int,
                  check: Callable[[], None]) -> None:
        """Upload ``size`` bytes; ``check()`` runs after the last chunk and before the object
        becomes visible (multipart complete / block list commit), and aborts it by raising."""
        ...

    async def delete(self, key: str) -> None:
        """Delete the object (absent is fine)."""
        ...

    async def touch(self, key: str) -> None:
        """Refresh the object's last-modified time without changing its bytes."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class KeyLayout:
    """Where BuildKit puts blobs and manifests under a prefix.

    s3 joins by plain concatenation (``prefix=proj`` gives ``projblobs/…``); azblob uses Go's
    ``path.Join`` (``proj/blobs/…`` with or without the slash).
    """

    join: Literal["concat", "path"]
    prefix: str = ""
    blobs_prefix: str = "blobs/"
    manifests_prefix: str = "manifests/"

    def _join(self, *parts: str) -> str:
        if self.join == "concat":
            return "".join(parts)
        kept = [p for p in parts if p]
        return posixpath.normpath(posixpath.join(*kept)).lstrip("/") if kept else ""

    def blob_key(self, digest: str) -> str:
        return self._join(self.prefix, self.blobs_prefix, digest)

    def manifest_key(self, name: str) -> str:
        return self._join(self.prefix, self.manifests_prefix, name)

    @property
    def blobs_dir(self) -> str:
        """The listing prefix of blob keys."""
        if self.join == "concat":
            return self.prefix + self.blobs_prefix
        base = self._join(self.prefix, self.blobs_prefix)
        return f"{base}/" if base else ""

    @property
    def manifests_dir(self) -> str:
        if self.join == "concat":
            return self.prefix + self.manifests_prefix
        base = self._join(self.prefix, self.manifests_prefix)
        return f"{base}/" if base else ""

    def digest_of(self, key: str) -> str | None:
        """The digest a blob key names, or ``None`` for anything else under the prefix."""
        if not key.startswith(self.blobs_dir):
            return None
        rest = key[len(self.blobs_dir):]
        return rest if is_digest(rest) else None


def _is_blob_like(media_type: str) -> bool:
    return mt.is_layer(media_type)


class ObjectStore:
    """:class:`~cachetui.store.base.Store` over an :class:`ObjectBackend` and a :class:`KeyLayout`."""

    def __init__(self, backend: ObjectBackend, layout: KeyLayout, *, kind: StoreKind,
                 names: tuple[str, ...] = (), concurrency: int = HEAD_CONCURRENCY) -> None:
        self.backend = backend
        self.layout = layout
        self._kind = kind
        self.names = names
        """The ``name=`` of the spec; empty lists every manifest under the prefix."""
        self._forms: dict[str, tuple[bytes, OciForm]] = {}
        self._configs: dict[str, bytes] = {}
        self._present: set[str] = set()
        self._staged: dict[str, TopObject] = {}
        self._semaphore = asyncio.Semaphore(concurrency)

    # -- identity ---------------------------------------------------------------------------
    @property
    def kind(self) -> StoreKind:
        return self._kind

    @property
    def location(self) -> str:
        shown = self.backend.description
        prefix = self.layout.prefix
        return f"{shown}/{prefix}" if prefix else shown

    @property
    def id(self) -> str:
        return f"{self._kind}:{self.location}"

    read_only: bool = False
    """Every write raises :class:`ReadOnlySource` (set by whoever opens it read-only)."""

    def check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlySource("read-only source: nothing is written", where=self.location)

    def __repr__(self) -> str:
        return f"ObjectStore({self.location!r})"

    # -- manifests ----------------------------------------------------------------------------
    async def list_tags(self) -> list[str]:
        if self.names:
            return list(self.names)
        directory = self.layout.manifests_dir
        names = [info.key[len(directory):] async for info in self.backend.list(directory)]
        return sorted(name for name in names if name)

    async def manifest_objects(self) -> list[ObjectInfo]:
        """Every manifest object under the prefix (all names, whatever ``names`` says)."""
        return [info async for info in self.backend.list(self.layout.manifests_dir)
                if info.key != self.layout.manifests_dir]

    async def read_annotated(self, name: str) -> bytes:
        """A manifest's exact stored bytes (read again from the start if it was rewritten
        while a broken read resumed: never half of one version and half of another)."""
        # Here, not at the top: httpobj brings httpx (~80 ms), and ``inspect``, ``space`` and
        # ``prune`` of directories load this module without ever reading an object.
        from cachetui.store.httpobj import ObjectChanged

        key = self.layout.manifest_key(name)
        where = f"{self.location}: manifest {name}"
        for attempt in range(1, MANIFEST_READS + 1):
            try:
                return await read_all(self.backend.get(key), MAX_MANIFEST_OBJECT, where)
            except ObjectChanged:
                if attempt == MANIFEST_READS:
                    raise
        raise AssertionError("unreachable")

    async def _form(self, name: str, *, fresh: bool = True) -> OciForm:
        if not fresh and name in self._forms:
            return self._forms[name][1]
        raw = await self.read_annotated(name)
        cached = self._forms.get(name)
        if cached is not None and cached[0] == raw:
            return cached[1]
        where = f"{self.location}: manifest {name}"
        form = annotated_to_oci(parse_annotated(raw, where=where))
        self._forms[name] = (raw, form)
        self._configs[form.config_descriptor.digest] = form.config_raw
        return form

    async def resolve(self, tag: str) -> Descriptor:
        return (await self._form(tag)).top.descriptor

    async def get_manifest(self, reference: str) -> TopObject:
        if is_digest(reference):
            if reference in self._staged:
                return self._staged[reference]
            for _, form in self._forms.values():
                if form.top.digest == reference:
                    return form.top
            for name in await self.list_tags():
                form = await self._form(name)
                if form.top.digest == reference:
                    return form.top
            raise NotFound(f"no manifest with digest {Digest(reference).short}",
                           where=self.location)
        # Just resolved (inventory resolves, then reads): one GET per manifest, not two.
        return (await self._form(reference, fresh=False)).top

    async def put_manifest(self, top: TopObject, tag: str | None) -> None:
        self.check_writable()
        descriptor = _config_of(top)
        config_raw = self._configs.get(descriptor.digest) if descriptor is not None else None
        document = build_document(top, config_raw, where=f"{self.location}: {tag or top.digest}")
        if top.is_index and not document.is_cache:
            raise UnsupportedOperation(f"{self.location} holds caches only, not image indexes")
        raw = oci_to_annotated(document)
        if tag is None:
            # Nothing to write: an object store keeps manifests only under a name. Staged so a
            # re-export can verify it by digest before naming it.
            self._staged[top.digest] = top
            return
        _check_name(tag)
        blobs = list(dict.fromkeys(layer.blob for layer in parse_annotated(raw).layers))
        missing = [d for d, size in zip(blobs, await self._sizes(blobs), strict=True)
                   if size is None]
        if missing:
            raise NotFound(f"{len(missing)} blob(s) the manifest names are not stored "
                           f"(first {Digest(missing[0]).short}); manifest not written",
                           where=f"{self.location}: {tag}")
        await self.backend.put(self.layout.manifest_key(tag), _one(raw), len(raw), _no_check)
        self._forms.pop(tag, None)

    async def put_annotated(self, name: str, raw: bytes) -> None:
        """Write annotated manifest bytes as they are (a copy between object stores)."""
        self.check_writable()
        _check_name(name)
        await self.backend.put(self.layout.manifest_key(name), _one(raw), len(raw), _no_check)
        self._forms.pop(name, None)

    async def delete_manifest(self, digest: Digest) -> None:
        self.check_writable()
        found = False
        for name in await self.list_tags():
            try:
                form = await self._form(name)
            except NotFound:
                continue
            if form.top.digest == digest:
                await self.delete_tag(name)
                found = True
        if not found:
            raise NotFound(f"no manifest with digest {Digest(digest).short}", where=self.location)

    async def untag(self, entries: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        """Delete these manifest names, each only while it still has the planned digest (Untags:
        every name is its own object; other names with the same bytes stay)."""
        self.check_writable()
        found: set[tuple[str, str]] = set()
        for tag, digest in entries:
            try:
                now = (await self.resolve(tag)).digest
            except NotFound:
                continue
            if now == digest:
                await self.delete_tag(tag)
                found.add((tag, digest))
        return found

    async def delete_tag(self, tag: str) -> None:
        self.check_writable()
        await self.backend.delete(self.layout.manifest_key(tag))
        self._forms.pop(tag, None)

    # -- blobs --------------------------------------------------------------------------------
    async def _sizes(self, digests: list[str]) -> list[int | None]:
        return list(await asyncio.gather(*(self.blob_size(Digest(d)) for d in digests)))

    async def blob_size(self, digest: Digest) -> int | None:
        config = self._configs.get(digest)
        if config is not None:
            return len(config)
        async with self._semaphore:
            info = await self.backend.head(self.layout.blob_key(digest))
        return None if info is None else info.size

    async def open_blob(self, descriptor: Descriptor) -> AsyncIterator[bytes]:
        digest = Digest(descriptor.digest)
        config = self._configs.get(digest)
        where = f"{self.location}: blob {digest.short}"
        verifier = Verifier(digest, descriptor.size, where=where)
        if config is not None:
            verifier.update(config)
            verifier.verify()
            yield config
            return
        pending: bytes | None = None
        async for chunk in self.backend.get(self.layout.blob_key(digest)):
            verifier.update(chunk)
            if pending is not None:
                yield pending
            pending = chunk
        verifier.verify()  # before the last chunk is handed over
        if pending is not None:
            yield pending

    async def read_blob(self, descriptor: Descriptor, *, limit: int = MAX_CONFIG_BYTES) -> bytes:
        if descriptor.size > limit:
            raise TooLarge(f"{descriptor.size} bytes, over {limit}",
                           where=f"{self.location}: blob {Digest(descriptor.digest).short}")
        data = bytearray()
        async for chunk in self.open_blob(descriptor):
            data += chunk
        return bytes(data)

    async def put_blob(self, descriptor: Descriptor, chunks: AsyncIterable[bytes]) -> None:
        self.check_writable()
        digest = Digest(descriptor.digest)
        where = f"{self.location}: blob {digest.short}"
        verifier = Verifier(digest, descriptor.size, where=where)
        if not _is_blob_like(descriptor.media_type):
            # A config (or image config): BuildKit stores none here; kept for put_manifest.
            if digest in self._configs:
                return  # already held: the stream is never read
            if descriptor.size > MAX_CONFIG_BYTES:
                raise TooLarge(f"{descriptor.size} bytes, over {MAX_CONFIG_BYTES}", where=where)
            data = bytearray()
            async for chunk in chunks:
                verifier.update(chunk)
                data += chunk
            verifier.verify()
            self._configs[digest] = bytes(data)
            return

        # Skip present (BuildKit HEADs before it uploads): content-addressed, so a stored object
        # of the right size under the digest's key is this blob; the stream is never read.
        if digest in self._present or await self.blob_size(digest) == descriptor.size:
            self._present.add(digest)
            return

        async def hashed() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                verifier.update(chunk)
                yield chunk

        await self.backend.put(self.layout.blob_key(digest), hashed(), descriptor.size,
                               verifier.verify)
        self._present.add(digest)

    async def mount_blob(self, descriptor: Descriptor, source: object) -> bool:
        return False

    async def delete_blob(self, digest: str) -> None:
        """Delete one blob object (gc of orphans)."""
        self.check_writable()
        await self.backend.delete(self.layout.blob_key(digest))

    async def touch_blob(self, digest: str) -> None:
        """Refresh a blob's last-modified time (lifecycle rules count from it)."""
        self.check_writable()
        await self.backend.touch(self.layout.blob_key(digest))

    async def blob_objects(self) -> dict[str, ObjectInfo]:
        """Every blob object under the prefix, by digest."""
        out: dict[str, ObjectInfo] = {}
        async for info in self.backend.list(self.layout.blobs_dir):
            digest = self.layout.digest_of(info.key)
            if digest is not None:
                out[digest] = info
        return out

    async def unreferenced_bytes(self) -> int:
        """Bytes of orphaned blobs: blob objects no manifest under the prefix names.

        Blobs are listed before manifests (a blob uploaded and then named in between counts as
        referenced); manifests this store just read are not fetched again.
        """
        blobs = await self.blob_objects()
        directory = self.layout.manifests_dir
        names = [info.key[len(directory):] for info in await self.manifest_objects()]

        async def named(name: str) -> set[str]:
            cached = self._forms.get(name)
            if cached is not None:
                return {descriptor.digest for descriptor in cached[1].layers}
            async with self._semaphore:
                raw = await self.read_annotated(name)
            config = parse_annotated(raw, where=f"{self.location}: {name}")
            return {layer.blob for layer in config.layers}

        referenced: set[str] = set()
        for found in await asyncio.gather(*(named(n) for n in names)):
            referenced |= found
        return sum(info.size for digest, info in blobs.items() if digest not in referenced)

    async def aclose(self) -> None:
        await self.backend.aclose()


def _config_of(top: TopObject) -> Descriptor | None:
    from cachetui.buildkit.document import config_descriptor

    return config_descriptor(top)


def _check_name(name: str) -> None:
    if not name or any(ord(c) < 0x20 or c == "\x7f" for c in name) or ".." in name.split("/"):
        raise InvalidInput(f"invalid manifest name {name!r}")


def _no_check() -> None:
    return None


async def _one(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK_SIZE):
        yield data[start:start + CHUNK_SIZE]


async def read_all(chunks: AsyncIterable[bytes], limit: int, where: str) -> bytes:
    """Collect a stream into memory, refusing more than ``limit`` bytes."""
    data = bytearray()
    async for chunk in chunks:
        data += chunk
        if len(data) > limit:
            raise TooLarge(f"over {limit} bytes", where=where)
    return bytes(data)


async def gather_limited(calls: list[Callable[[], Awaitable[None]]], limit: int) -> None:
    """Run ``calls`` with at most ``limit`` in flight; the first error cancels the rest."""
    semaphore = asyncio.Semaphore(limit)

    async def run(call: Callable[[], Awaitable[None]]) -> None:
        async with semaphore:
            await call()

    async with asyncio.TaskGroup() as group:
        for call in calls:
            group.create_task(run(call))


__all__ = ["DigestMismatch", "KeyLayout", "ObjectBackend", "ObjectInfo", "ObjectStore"]

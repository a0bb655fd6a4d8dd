"""The Store interface over a repository's Actions cache.

Each cache (a scope written from one ref, ``SCOPE@REF``) is a tag; its manifest is the OCI image
manifest BuildKit's registry exporter would write for the current index generation
(``buildkit/annotated``), and the synthesised config blob is served from memory, so inventory,
inspect and copy work on it unchanged. Listing needs only a GitHub token (REST); reading and
writing contents need the runtime token of a workflow run, and then only the refs it covers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from typing import Final

from cachetui.buildkit.annotated import OciForm, annotated_to_oci, oci_to_annotated, parse_annotated
from cachetui.buildkit.document import build_document, config_descriptor
from cachetui.errors import (
    DigestMismatch,
    InvalidInput,
    NotFound,
    ReadOnlySource,
    TooLarge,
    UnsupportedOperation,
)
from cachetui.oci.digest import Digest, Verifier, is_digest
from cachetui.oci.models import Descriptor, TopObject
from cachetui.store.base import MAX_CONFIG_BYTES, Store, StoreKind
from cachetui.store.gha.errors import GitHubError
from cachetui.store.gha.inventory import (
    ContentFindings,
    EntryInfo,
    GhaCache,
    GhaInventory,
    content_findings,
    group,
)
from cachetui.store.gha.keys import blob_key, index_prefix, parse_index_key
from cachetui.store.gha.rest import GitHubRest
from cachetui.store.gha.runtime import AlreadyExists, RuntimeCache
from cachetui.store.gha.tokens import writable_ref

MAX_INDEX_BYTES: Final = 16 * 1024 * 1024
RESERVE_ATTEMPTS: Final = 20


class GhaStore:
    """``gha://OWNER/REPO[?scope=S]``: caches by ``SCOPE@REF``."""

    def __init__(self, rest: GitHubRest, runtime: RuntimeCache | None, *,
                 scope: str | None = None) -> None:
        self.rest = rest
        self.runtime = runtime
        self.scope = scope
        self._inventory: GhaInventory | None = None
        self._forms: dict[str, OciForm] = {}
        self._by_tag: dict[str, str] = {}
        self._configs: dict[str, bytes] = {}
        self._lock = asyncio.Lock()

    @property
    def kind(self) -> StoreKind:
        return "gha"

    @property
    def location(self) -> str:
        return f"gha://{self.rest.repository}" + (f"?scope={self.scope}" if self.scope else "")

    @property
    def id(self) -> str:
        return f"gha:repository={self.rest.repository}" + (f",scope={self.scope}"
                                                           if self.scope else "")

    read_only: bool = False
    """Every write raises :class:`ReadOnlySource` (set by whoever opens it read-only)."""

    def check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlySource("read-only source: nothing is written", where=self.location)

    # -- inventory ---------------------------------------------------------------------------

    async def inventory(self, *, refresh: bool = False) -> GhaInventory:
        """Every entry grouped into caches (REST; one listing per store unless ``refresh``)."""
        async with self._lock:
            if self._inventory is None or refresh:
                entries, usage = await asyncio.gather(self.rest.list_entries(),
                                                      self.rest.usage())
                self._inventory = group(self.rest.repository, entries, usage_bytes=usage,
                                        scope=self.scope)
            return self._inventory

    async def quota(self) -> tuple[int, int]:
        """``(used, limit)``: the usage endpoint's figure (the listing's sum if it had none)
        against the repository's limit, so a UI can say how close eviction is."""
        inventory = await self.inventory()
        used = inventory.usage_bytes if inventory.usage_bytes is not None \
            else inventory.total_bytes
        return used, inventory.limit_bytes

    async def list_tags(self) -> list[str]:
        return [cache.name for cache in (await self.inventory()).caches]

    async def _cache(self, tag: str) -> GhaCache:
        cache = (await self.inventory()).cache(tag)
        if cache is None:
            raise NotFound(f"no cache {tag!r} (names are SCOPE@REF)", where=self.location)
        return cache

    def _need_runtime(self) -> RuntimeCache:
        if self.runtime is None:
            raise UnsupportedOperation(
                "reading or writing cache contents needs the runtime token of a workflow run "
                "(ACTIONS_RUNTIME_TOKEN with ACTIONS_RESULTS_URL; expose them with "
                "crazy-max/ghaction-github-runtime)", where=self.location)
        return self.runtime

    async def read_entry(self, key: str, *, limit: int, size: int | None = None) -> bytes:
        """An entry's bytes through the runtime token (exact key), at most ``limit`` bytes."""
        runtime = self._need_runtime()
        found = await runtime.lookup([key])
        if found is None or found.key != key:
            raise NotFound(f"{key}: the runtime token cannot read this entry (another ref, or "
                           "evicted)", where=self.location)
        data = bytearray()
        async for chunk in runtime.download(found):
            data += chunk
            if len(data) > limit:
                raise TooLarge(f"{key} is over {limit} bytes", where=self.location)
        if size is not None and len(data) != size:
            raise DigestMismatch(f"{key}: read {len(data)} bytes, the listing says {size}",
                                 where=self.location)
        return bytes(data)

    async def index_form(self, cache: GhaCache) -> OciForm:
        current = cache.current
        raw = await self.read_entry(current.key, limit=MAX_INDEX_BYTES, size=current.size)
        form = annotated_to_oci(parse_annotated(raw, where=f"{self.location} {current.key}"))
        self._forms[form.top.digest] = form
        self._by_tag[cache.name] = form.top.digest
        return form

    async def references(self) -> dict[int, tuple[str, ...]]:
        """Entry id of every readable index generation → the blob digests its layers name.
        Generations the runtime token cannot read (other refs) are left out."""
        inventory = await self.inventory()
        limit = asyncio.Semaphore(8)
        out: dict[int, tuple[str, ...]] = {}

        async def one(entry: EntryInfo) -> None:
            async with limit:
                try:
                    raw = await self.read_entry(entry.key, limit=MAX_INDEX_BYTES, size=entry.size)
                except NotFound:
                    return
            config = parse_annotated(raw, where=f"{self.location} {entry.key}")
            out[entry.id] = tuple(layer.blob for layer in config.layers)

        await asyncio.gather(*(one(entry) for cache in inventory.caches
                               for _, entry in cache.generations))
        return out

    async def findings(self) -> ContentFindings | None:
        """Evicted and orphaned blobs, when a runtime token can read the indexes."""
        if self.runtime is None:
            return None
        return content_findings(await self.inventory(), await self.references())

    # -- Store -------------------------------------------------------------------------------

    async def resolve(self, tag: str) -> Descriptor:
        return (await self.get_manifest(tag)).descriptor

    async def get_manifest(self, reference: str) -> TopObject:
        if is_digest(reference):
            form = self._forms.get(reference)
            if form is None:
                raise NotFound(f"manifest {reference} (read a cache by name first)",
                               where=self.location)
            return form.top
        digest = self._by_tag.get(reference)
        if digest is not None:
            return self._forms[digest].top
        return (await self.index_form(await self._cache(reference))).top

    async def blob_size(self, digest: Digest) -> int | None:
        config = self._config(digest)
        if config is not None:
            return len(config)
        key = blob_key(digest)
        sizes = [e.size for e in (await self.inventory()).blobs if e.key == key]
        return max(sizes) if sizes else None

    def _config(self, digest: str) -> bytes | None:
        for form in self._forms.values():
            if form.config_descriptor.digest == digest:
                return form.config_raw
        return self._configs.get(digest)

    async def open_blob(self, descriptor: Descriptor) -> AsyncIterator[bytes]:
        verifier = Verifier(Digest(descriptor.digest), descriptor.size,
                            where=f"{self.location} {descriptor.digest}")
        config = self._config(descriptor.digest)
        if config is not None:
            verifier.update(config)
            verifier.verify()
            yield config
            return
        runtime = self._need_runtime()
        key = blob_key(descriptor.digest)
        found = await runtime.lookup([key])
        if found is None or found.key != key:
            raise NotFound(f"blob {descriptor.digest}: no entry {key} the runtime token can "
                           "read (evicted?)", where=self.location)
        pending: bytes | None = None
        async for chunk in runtime.download(found):
            verifier.update(chunk)
            if pending is not None:
                yield pending
            pending = chunk
        verifier.verify()
        if pending is not None:
            yield pending

    async def read_blob(self, descriptor: Descriptor, *, limit: int = MAX_CONFIG_BYTES) -> bytes:
        if descriptor.size > limit:
            raise TooLarge(f"{descriptor.size} bytes, over {limit}", where=self.location)
        out = bytearray()
        async for chunk in self.open_blob(descriptor):
            out += chunk
        return bytes(out)

    async def put_blob(self, descriptor: Descriptor, chunks: AsyncIterable[bytes]) -> None:
        """A layer becomes ``buildkit-blob-1-<digest>`` (committed only once verified); a config
        blob is kept in memory for :meth:`put_manifest`, as gha stores no config object."""
        self.check_writable()
        verifier = Verifier(Digest(descriptor.digest), descriptor.size,
                            where=f"{self.location} {descriptor.digest}")
        if descriptor.size <= MAX_CONFIG_BYTES and descriptor.media_type.endswith(
                "cacheconfig.v0"):
            data = bytearray()
            async for chunk in chunks:
                verifier.update(chunk)
                data += chunk
            verifier.verify()
            self._configs[descriptor.digest] = bytes(data)
            return
        runtime = self._need_runtime()
        key = blob_key(descriptor.digest)
        if await runtime.lookup([key]) is not None:
            async for _ in chunks:  # drain: the caller's stream must finish
                pass
            return

        async def checked() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                verifier.update(chunk)
                yield chunk

        try:
            await runtime.save(key, checked(), check=verifier.verify)
        except AlreadyExists:
            return  # another writer won the race with the same bytes (the key is the digest)

    async def mount_blob(self, descriptor: Descriptor, source: Store) -> bool:
        return False

    async def put_manifest(self, top: TopObject, tag: str | None) -> None:
        """Write the annotated index as the next generation of ``tag``'s scope for the token's
        writable ref, after checking every layer it names is there (never a dangling index)."""
        self.check_writable()
        runtime = self._need_runtime()
        if not tag:
            raise InvalidInput("a gha cache needs a scope name to write (SCOPE or SCOPE@REF)")
        scope = tag.split("@", 1)[0]
        config_raw = self._config(self._config_digest(top))
        if config_raw is None:
            raise NotFound("the cache config blob was not written first", where=self.location)
        document = build_document(top, config_raw, where=self.location)
        annotated = oci_to_annotated(document)
        for layer in document.layers:
            if await runtime.lookup([blob_key(layer.digest)]) is None:
                raise NotFound(f"blob {layer.digest} is not in the cache; refusing to write an "
                               "index that names it", where=self.location)
        writable = await self._writable_ref()
        prefix = index_prefix(scope, writable)
        for _ in range(RESERVE_ATTEMPTS):
            newest = await runtime.lookup([prefix + "#"])
            parsed = parse_index_key(newest.key) if newest is not None else None
            generation = (parsed.generation if parsed is not None else 0) + 1
            try:
                await runtime.save(f"{prefix}#{generation}", _one(annotated))
                self._inventory = None
                return
            except AlreadyExists:
                continue
        raise GitHubError(f"could not reserve a new generation of {prefix}", where=self.location)

    @staticmethod
    def _config_digest(top: TopObject) -> str:
        descriptor = config_descriptor(top)
        if descriptor is None:
            raise InvalidInput("not a cache manifest")
        return descriptor.digest

    async def _writable_ref(self) -> str:
        runtime = self._need_runtime()
        ref = writable_ref(runtime)
        if ref is None:
            raise UnsupportedOperation("the runtime token has no writable ref",
                                       where=self.location)
        return ref

    async def delete_manifest(self, digest: Digest) -> None:
        self.check_writable()
        raise UnsupportedOperation("delete gha caches with prune (it plans generations and refs)",
                                   where=self.location)

    async def delete_tag(self, tag: str) -> None:
        self.check_writable()
        raise UnsupportedOperation("gha caches have no tags to remove", where=self.location)

    async def aclose(self) -> None:
        await self.rest.aclose()
        if self.runtime is not None:
            await self.runtime.aclose()


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data

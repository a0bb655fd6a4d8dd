"""One registry repository as a :class:`cachetui.store.base.Store`."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from cachetui.errors import ReadOnlySource, TooLarge
from cachetui.oci.digest import Digest, is_digest
from cachetui.oci.models import Descriptor, TopObject
from cachetui.oci.reference import validate_tag
from cachetui.store.base import MAX_CONFIG_BYTES, Store, StoreKind
from cachetui.store.registry.client import RegistryClient
from cachetui.store.registry.errors import RegistryNotFound


class RegistryStore:
    """``host/repository`` on a registry; all I/O goes through the session's shared client."""

    def __init__(self, client: RegistryClient, repository: str, *, listed: bool = False,
                 read_only: bool = False) -> None:
        self.client = client
        self.repository = repository
        self.listed = listed
        """Named by the registry's catalog: it exists, so ``NAME_UNKNOWN`` means "no tags"."""
        self.read_only = read_only
        """Every write (blob, mount, manifest, delete) raises :class:`ReadOnlySource`."""

    @property
    def kind(self) -> StoreKind:
        return "registry"

    @property
    def host(self) -> str:
        return self.client.host

    @property
    def location(self) -> str:
        return f"{self.client.host}/{self.repository}"

    @property
    def id(self) -> str:
        return f"registry:{self.location}"

    def __repr__(self) -> str:
        return f"RegistryStore({self.location!r})"

    def check_writable(self) -> None:
        """Raise :class:`ReadOnlySource` when this store is read-only (before any request)."""
        if self.read_only:
            raise ReadOnlySource("read-only source: nothing is written", where=self.location)

    async def list_tags(self) -> list[str]:
        try:
            return sorted(await self.client.list_tags(self.repository))
        except RegistryNotFound as exc:
            # distribution answers NAME_UNKNOWN for a repository whose every tag is gone (or
            # that only ever got blobs); from the catalog, that is an empty repository.
            if self.listed and exc.code == "NAME_UNKNOWN":
                return []
            raise

    async def resolve(self, tag: str) -> Descriptor:
        return await self.client.head_manifest(self.repository, tag)

    async def get_manifest(self, reference: str) -> TopObject:
        return await self.client.get_manifest(self.repository, reference)

    async def blob_size(self, digest: Digest) -> int | None:
        return await self.client.blob_size(self.repository, Digest(digest))

    def open_blob(self, descriptor: Descriptor) -> AsyncIterator[bytes]:
        return self.client.stream_blob(self.repository, descriptor)

    async def read_blob(self, descriptor: Descriptor, *, limit: int = MAX_CONFIG_BYTES) -> bytes:
        if descriptor.size > limit:
            raise TooLarge(f"{descriptor.size} bytes, over the {limit} byte limit",
                           where=f"{self.location}: blob {Digest(descriptor.digest).short}")
        return await self.client.read_blob(self.repository, descriptor)

    async def put_blob(self, descriptor: Descriptor, chunks: AsyncIterable[bytes]) -> None:
        self.check_writable()
        existing = await self.blob_size(Digest(descriptor.digest))
        if existing == descriptor.size:
            closer = getattr(chunks, "aclose", None)
            if closer is not None:
                await closer()
            return
        await self.client.upload_blob(self.repository, descriptor, chunks)

    def can_mount_from(self, source: Store) -> bool:
        """Another repository (or this one) of the same registry."""
        return isinstance(source, RegistryStore) and source.host == self.host

    async def delete_by_digest(self, digest: Digest) -> None:
        """distribution deletes the manifest and untags every tag on it."""
        await self.delete_manifest(digest)

    async def mount_blob(self, descriptor: Descriptor, source: Store) -> bool:
        self.check_writable()
        if not isinstance(source, RegistryStore) or source.host != self.host:
            return False
        if source.repository == self.repository:
            return await self.blob_size(Digest(descriptor.digest)) == descriptor.size
        return await self.client.mount_blob(self.repository, Digest(descriptor.digest),
                                            source.repository)

    async def put_manifest(self, top: TopObject, tag: str | None) -> None:
        self.check_writable()
        reference = validate_tag(tag) if tag is not None else top.digest
        await self.client.put_manifest(self.repository, top, reference)

    async def delete_manifest(self, digest: Digest) -> None:
        self.check_writable()
        await self.client.delete_manifest(self.repository, Digest(digest))

    async def delete_tag(self, tag: str) -> None:
        self.check_writable()
        if is_digest(tag):
            raise ValueError("delete_tag takes a tag, not a digest")
        await self.client.delete_tag(self.repository, validate_tag(tag))

    async def aclose(self) -> None:
        """Nothing to release: the session owns the connections."""

"""A registry store whose refused manifest deletes go through the vendor's API instead.

Everything else is the wrapped store's (attributes are delegated, so its capabilities stay).
The tags seen while planning (each read by tag) are passed along as the allowed ones, so a
version that gained a tag after the plan is refused by the vendor deleter, never deleted.
"""

from __future__ import annotations

from typing import Any, Protocol

from cachetui.errors import CachetuiError, RegistryError, UnsupportedOperation
from cachetui.oci.digest import Digest, is_digest
from cachetui.oci.models import Descriptor, TopObject
from cachetui.store.base import Mounts, Store


class VendorDeleter(Protocol):
    @property
    def where(self) -> str: ...

    async def delete_digest(self, digest: str, *,
                            allowed_tags: frozenset[str] | None = None) -> object: ...

    async def aclose(self) -> None: ...


def is_refusal(exc: CachetuiError) -> bool:
    """The distribution DELETE was refused (405/UNSUPPORTED, or GHCR's 403/401 on DELETE)."""
    if isinstance(exc, UnsupportedOperation):
        return True
    return isinstance(exc, RegistryError) and (
        exc.status in (401, 403, 405) or exc.code in ("UNSUPPORTED", "DENIED", "UNAUTHORIZED"))


class VendorDeletes:
    """``store`` with ``delete_manifest`` falling back to ``deleter``."""

    def __init__(self, store: Store, deleter: VendorDeleter) -> None:
        self._store = store
        self._deleter = deleter
        self._seen: dict[str, str] = {}
        """Tag → digest as planning saw it."""
        self.vendor_deletes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @property
    def kind(self) -> Any:
        return self._store.kind

    @property
    def location(self) -> str:
        return self._store.location

    async def mount_blob(self, descriptor: Descriptor, source: Store) -> bool:
        """Mounts between wrapped stores of one registry keep working (the inner store checks
        its own class)."""
        inner = source._store if isinstance(source, VendorDeletes) else source
        return await self._store.mount_blob(descriptor, inner)

    def can_mount_from(self, source: Store) -> bool:
        inner = source._store if isinstance(source, VendorDeletes) else source
        return isinstance(self._store, Mounts) and self._store.can_mount_from(inner)

    async def delete_by_digest(self, digest: Digest) -> None:
        """Every tag on the digest goes (as the registry's own delete), with the vendor's API
        as the fallback."""
        await self.delete_manifest(digest)

    async def get_manifest(self, reference: str) -> TopObject:
        top = await self._store.get_manifest(reference)
        if not is_digest(reference):
            self._seen.setdefault(reference, top.digest)
        return top

    async def resolve(self, tag: str) -> Descriptor:
        descriptor = await self._store.resolve(tag)
        self._seen.setdefault(tag, descriptor.digest)
        return descriptor

    async def delete_manifest(self, digest: Digest) -> None:
        try:
            await self._store.delete_manifest(digest)
            return
        except CachetuiError as exc:
            if not is_refusal(exc):
                raise
        allowed = frozenset(tag for tag, seen in self._seen.items() if seen == digest)
        await self._deleter.delete_digest(str(digest), allowed_tags=allowed)
        self.vendor_deletes += 1

    async def aclose(self) -> None:
        await self._deleter.aclose()
        await self._store.aclose()

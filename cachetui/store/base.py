"""The one async Store interface that registries and local directories both implement.

Everything above the store layer (inventory, copy, prune, re-export, the TUI and the CLI) talks to
this protocol only, and never asks which kind of store it holds (the regclient shape).

Contract every implementation keeps:
- Blob reads are verified: ``open_blob`` hashes while streaming and raises
  :class:`~cachetui.errors.DigestMismatch` before its last chunk is handed over if digest or size
  are wrong, so a consumer that only commits after a clean end never keeps corrupt data.
- Blob writes are verified before they become visible, and are atomic.
- Manifests are returned and stored with their exact bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Collection
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final, Literal, Protocol, runtime_checkable

from cachetui.oci.digest import Digest
from cachetui.oci.models import Descriptor, TopObject
from cachetui.progress import CancelToken, ProgressSink

if TYPE_CHECKING:
    from cachetui.store.garbage import GcPlan, GcResult

CHUNK_SIZE: Final = 1024 * 1024
"""Streaming granularity for blobs: large enough for throughput, small enough for flat memory."""

MAX_CONFIG_BYTES: Final = 16 * 1024 * 1024
"""Largest cache config or image config we read into memory."""

StoreKind = Literal["registry", "directory", "s3", "azblob", "gha"]


@runtime_checkable
class Store(Protocol):
    """A place that holds tagged caches: one registry repository, or one local cache directory."""

    @property
    def kind(self) -> StoreKind:
        """``registry`` or ``directory``, for display only; operations must not branch on it."""
        ...

    @property
    def location(self) -> str:
        """Where this is, for people: ``/ci/cache`` or ``ghcr.io/org/app``. Not an identity."""
        ...

    @property
    def id(self) -> str:
        """Stable identity: ``local:/abs/path``, ``registry:host/repo`` (the ``Location.id``
        of what opened it). Two stores with one id are the same place."""
        ...

    @property
    def read_only(self) -> bool:
        """Every write raises :class:`~cachetui.errors.ReadOnlySource` (config ``read_only``)."""
        ...

    async def list_tags(self) -> list[str]:
        """Every tag, sorted (the same order from every store)."""
        ...

    async def resolve(self, tag: str) -> Descriptor:
        """The descriptor of the object a tag points at; :class:`NotFound` if absent."""
        ...

    async def get_manifest(self, reference: str) -> TopObject:
        """A manifest or index by tag or digest, with its exact bytes, verified."""
        ...

    async def blob_size(self, digest: Digest) -> int | None:
        """The stored size of a blob, or ``None`` if the store does not have it."""
        ...

    def open_blob(self, descriptor: Descriptor) -> AsyncIterator[bytes]:
        """Stream a blob in chunks of about :data:`CHUNK_SIZE`, verifying digest and size."""
        ...

    async def read_blob(self, descriptor: Descriptor, *, limit: int = MAX_CONFIG_BYTES) -> bytes:
        """A small blob (a config) in memory, verified; :class:`TooLarge` over ``limit``."""
        ...

    async def put_blob(self, descriptor: Descriptor, chunks: AsyncIterable[bytes]) -> None:
        """Store a blob from a chunk stream; verified against the descriptor before it is kept.

        A blob the store already has intact is kept and the stream closed unread (skip if
        present, in every store)."""
        ...

    async def mount_blob(self, descriptor: Descriptor, source: Store) -> bool:
        """Make ``source``'s blob available here without moving bytes, if possible.

        Returns ``False`` when a mount is not possible (different registry, directory), and the
        caller then streams the blob.
        """
        ...

    async def put_manifest(self, top: TopObject, tag: str | None) -> None:
        """Store a manifest's exact bytes, and point ``tag`` at it when given."""
        ...

    async def delete_manifest(self, digest: Digest) -> None:
        """Delete a manifest by digest (every tag on it goes with it)."""
        ...

    async def delete_tag(self, tag: str) -> None:
        """Remove a tag only; :class:`UnsupportedOperation` where the store cannot."""
        ...

    async def aclose(self) -> None:
        """Release connections and locks."""
        ...


@runtime_checkable
class VerifiesBlobs(Protocol):
    """A store that can cheaply prove a blob it holds is intact (a local directory hashes it).

    Copy skips a blob only when this says yes; stores without it are trusted by size (a
    registry verifies digests on upload)."""

    async def has_verified_blob(self, descriptor: Descriptor) -> bool:
        """Whether the blob is here with exactly the declared digest and size."""
        ...


@runtime_checkable
class ReadsLocalFiles(Protocol):
    """A store whose documents are already files on this machine (a cache directory).

    Caching its manifests and configs on disk would only copy them, so the disk cache skips it."""

    def reads_local_files(self) -> bool:
        """Always true; a method so that the capability is a protocol operations can ask."""
        ...


@runtime_checkable
class StagesBlobs(Protocol):
    """New blobs can be written straight into the store's own temp files and moved into place
    once their digest is known (a directory). A blob made here (a re-encoded layer) is then
    written once, hashed as it is written, instead of going to a temp file that is read back,
    hashed again and copied."""

    def stage_blob_sync(self) -> StagedBlob:
        """A new temp file inside the store, open for writing (blocking: call from a thread)."""
        ...


class StagedBlob(Protocol):
    """A blob being written into a store; :meth:`commit` or :meth:`discard` ends it."""

    @property
    def file(self) -> BinaryIO:
        ...

    @property
    def path(self) -> Path:
        """The temp file (for messages and tests)."""
        ...

    def commit(self, descriptor: Descriptor) -> bool:
        """Make it the blob ``descriptor`` names (size checked, fsync, rename); False when the
        store already held that blob intact (the staged copy is dropped). ``descriptor``'s digest
        must be the hash of exactly the bytes written to :attr:`file` (blocking)."""
        ...

    def discard(self) -> None:
        """Remove the temp file (blocking; safe to call after commit)."""
        ...


# -- capabilities: what a store can do beyond reading and writing ------------------------------
# Operations ask these (``isinstance(store, Untags)``), never which class or kind a store is.


@runtime_checkable
class DeletesByDigest(Protocol):
    """Deleting a manifest by digest removes every tag on it (a registry): the other tags on the
    digest are collateral, and a plan must show and confirm them."""

    async def delete_by_digest(self, digest: Digest) -> None:
        """Delete the manifest ``digest`` and with it every tag that points at it."""
        ...


@runtime_checkable
class Untags(Protocol):
    """Tags can be removed one by one, leaving other tags on the same manifest (a directory)."""

    async def untag(self, entries: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        """Remove these (tag, manifest digest) entries in one atomic step; returns those found
        (a tag that moved since the plan is not removed)."""
        ...


@runtime_checkable
class CollectsGarbage(Protocol):
    """The store deletes its own unreferenced blobs, sparing those younger than a grace period
    (a build may be writing them)."""

    async def plan_garbage(self, *, grace: timedelta,
                           without: Collection[tuple[str, str]] = ()) -> GcPlan:
        """What a collection would delete now; ``without``: (tag, digest) entries counted as
        already removed (what a prune of them frees)."""
        ...

    async def collect_garbage(self, plan: GcPlan, *, progress: ProgressSink | None = None,
                              cancel: CancelToken | None = None) -> GcResult:
        """Delete exactly the planned blobs that are, re-checked under the store's lock, still
        unreferenced and old."""
        ...


@runtime_checkable
class Mounts(Protocol):
    """Blobs of another store can be made available here without moving bytes."""

    def can_mount_from(self, source: Store) -> bool:
        """Whether :meth:`Store.mount_blob` can work for ``source`` (for plans: mount or copy)."""
        ...


@runtime_checkable
class Touches(Protocol):
    """Blobs can be marked as used now, so an expiry rule does not remove them (s3's
    ``touch_refresh``)."""

    async def touch_blob(self, digest: str) -> None:
        ...

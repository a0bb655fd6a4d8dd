"""What a garbage collection plans and does (for any store that collects its own garbage), and
the narrow view of a cache directory that its collector (:mod:`.layout_gc`) works through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from cachetui.oci import mediatypes as mt
from cachetui.oci.digest import Digest
from cachetui.oci.models import Descriptor, Index


@dataclass(frozen=True, slots=True)
class IngestEntry:
    """A leftover in-progress write: under ``ingest/`` (an aborted export leaves these), or a
    cachetui temp file (``name`` is then its path from the layout root)."""

    name: str
    size: int
    mtime: float


@dataclass(frozen=True, slots=True)
class BlobFile:
    digest: Digest
    size: int
    mtime: float


@dataclass(slots=True)
class Reachability:
    """What the tags of a directory reach, and what nothing reaches (BuildKit's reset=true rule)."""

    reachable: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    blobs: dict[str, BlobFile] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """Reachable manifests that could not be read: their children are unknown, so GC must stop."""
    ingest: list[IngestEntry] = field(default_factory=list)

    @property
    def unreferenced(self) -> list[BlobFile]:
        return sorted(
            (blob for digest, blob in self.blobs.items() if digest not in self.reachable),
            key=lambda blob: blob.digest,
        )

    @property
    def unreferenced_bytes(self) -> int:
        return sum(blob.size for blob in self.unreferenced)


def tag_of(descriptor: Descriptor) -> str | None:
    """The tag of an ``index.json`` entry, as BuildKit's client resolves it."""
    return descriptor.annotation(mt.ANNOTATION_CONTAINERD_NAME) or descriptor.annotation(
        mt.ANNOTATION_REF_NAME
    )


IndexChange = Callable[[list[Descriptor]], list[Descriptor]]


class LayoutFiles(Protocol):
    """What the collector needs of a cache directory (:class:`~.layout.LayoutStore` has it)."""

    root: Path

    @property
    def location(self) -> str: ...

    @property
    def lock_path(self) -> Path: ...

    def blob_path(self, digest: str) -> Path: ...

    def leftover_path(self, name: str) -> Path | None: ...

    def check_writable(self) -> None: ...

    def read_index_sync(self, *, lock: bool = True) -> Index: ...

    def update_index_sync(self, change: IndexChange) -> None: ...

    def reachability_sync(self, *, roots: list[Descriptor] | None = None,
                          locked: bool = False) -> Reachability: ...


@dataclass(frozen=True, slots=True)
class GcPlan:
    """What a GC of one directory would delete, and what it spares."""

    location: str
    grace: timedelta
    blobs: tuple[BlobFile, ...]
    """Unreachable blobs older than the grace period: these go."""
    spared: tuple[BlobFile, ...]
    """Unreachable blobs younger than the grace period: kept for now."""
    ingest: tuple[IngestEntry, ...]
    """Stale ``ingest/`` entries (older than the grace period)."""
    ingest_spared: tuple[IngestEntry, ...]
    reachable: int
    missing: tuple[str, ...]
    """Reachable blobs that are not on disk (reported, not an error: the OCI spec allows it)."""

    @property
    def bytes(self) -> int:
        return sum(blob.size for blob in self.blobs)

    @property
    def ingest_bytes(self) -> int:
        return sum(entry.size for entry in self.ingest)


@dataclass(slots=True)
class GcResult:
    """What a sweep did: every planned blob ends up in exactly one of these lists."""

    location: str
    deleted: list[BlobFile] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    """(digest, why) for planned blobs that were not deleted on purpose (reachable now, young)."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    ingest_deleted: list[str] = field(default_factory=list)
    ingest_failed: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False

    @property
    def bytes(self) -> int:
        return sum(blob.size for blob in self.deleted)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.ingest_failed and not self.cancelled

"""Local cache directories (``type=local`` caches): OCI image layouts as BuildKit writes them.

```
<dir>/oci-layout  index.json  index.json.lock  blobs/sha256/<hex>  ingest/<hex>/...
```

Reads verify every blob against its digest and size, and a blob path can never leave the directory:
digests are validated (no ``/`` or ``..``) and symlinks are resolved and checked. Writes go through a
temp file, fsync and rename; ``index.json`` is rewritten that way while holding BuildKit's
``index.json.lock`` (flock), keeping every other tag as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Collection
from datetime import timedelta
from io import BufferedWriter
from pathlib import Path
from typing import BinaryIO, Final

import msgspec

from cachetui.errors import (
    BlobsMissing,
    CachetuiError,
    DigestMismatch,
    FormatError,
    LayoutError,
    NotFound,
    ReadOnlySource,
    TooLarge,
)
from cachetui.oci import mediatypes as mt
from cachetui.oci.digest import Digest, Verifier, is_digest
from cachetui.oci.models import Descriptor, Index, TopObject, encode_json, parse_top
from cachetui.oci.reference import validate_tag
from cachetui.progress import CancelToken, ProgressSink, no_progress
from cachetui.store.base import CHUNK_SIZE, MAX_CONFIG_BYTES, StagedBlob, Store, StoreKind
from cachetui.store.fsutil import atomic_write, create_new, flocked, fsync_dir, inside, temp_name
from cachetui.store.garbage import BlobFile, GcPlan, GcResult, IngestEntry, Reachability, tag_of
from cachetui.store.layout_gc import LayoutMaintenance

IndexChange = Callable[[list[Descriptor]], list[Descriptor]]
"""Maps the old ``index.json`` entries to the new ones (run under the exclusive lock)."""

MAX_INDEX_BYTES: Final = 16 * 1024 * 1024
OCI_LAYOUT_BYTES: Final = b'{"imageLayoutVersion":"1.0.0"}'


LEFTOVER: Final = re.compile(r"\A\.cachetui-[^/]+\.tmp\Z")
"""Temp files of :func:`cachetui.store.fsutil.atomic_write` and blob writes."""
LEFTOVER_DIRS: Final = ("", "blobs/sha256", "blobs/sha512")


class LayoutStore(Store):
    """A local cache directory behind the :class:`Store` interface."""

    read_only: bool = False

    def __init__(self, root: str | os.PathLike[str], *, create: bool = False,
                 read_only: bool = False) -> None:
        self.root = Path(root)
        self._create = create
        self.read_only = read_only
        """Every write (blob, index.json, blob deletion) raises :class:`ReadOnlySource`."""
        self._verified: dict[str, tuple[int, int, int, int]] = {}
        """digest → (device, inode, size, mtime_ns) of a file this process hashed: the same file,
        unchanged since, needs no second hash (a rename or a write changes one of them)."""

    def reads_local_files(self) -> bool:
        """The directory is already on disk: the document disk cache skips it (ReadsLocalFiles)."""
        return True

    # -- identity ---------------------------------------------------------------------------
    @property
    def kind(self) -> StoreKind:
        return "directory"

    @property
    def location(self) -> str:
        return str(self.root)

    @property
    def id(self) -> str:
        return "local:" + os.path.abspath(self.root)

    def check_writable(self) -> None:
        """Raise :class:`ReadOnlySource` when this store is read-only (before any write)."""
        if self.read_only:
            raise ReadOnlySource("read-only source: nothing is written", where=str(self.root))

    def __repr__(self) -> str:
        return f"LayoutStore({str(self.root)!r})"

    # -- paths ------------------------------------------------------------------------------
    @property
    def index_path(self) -> Path:
        return self.root / "index.json"

    @property
    def lock_path(self) -> Path:
        return self.root / "index.json.lock"

    def blob_path(self, digest: str) -> Path:
        """The file of a blob; the digest is validated so the path stays under ``blobs/``."""
        parsed = Digest(digest)
        return self.root / "blobs" / parsed.algorithm / parsed.hex

    def _checked_blob_path(self, digest: str) -> Path:
        path = self.blob_path(digest)
        if (path.is_symlink() or path.parent.is_symlink()) and not inside(self.root, path):
            raise LayoutError(
                f"blob {Digest(digest).short} is a symlink pointing outside the directory",
                where=str(self.root),
            )
        if not inside(self.root, path.parent):
            raise LayoutError("blobs/ points outside the directory", where=str(self.root))
        return path

    # -- index.json -------------------------------------------------------------------------
    def read_index_sync(self, *, lock: bool = True) -> Index:
        """Parse ``index.json`` (under a shared lock when one can be taken).

        ``lock=False`` is for callers that already hold the exclusive lock (GC deciding what to
        delete): flock locks of one process on two descriptors conflict, so re-locking would hang.
        """
        if not self.root.is_dir():
            raise NotFound("no such directory", where=str(self.root))
        if not self.index_path.exists():
            if self._create:
                return Index(schema_version=2, manifests=[], media_type=mt.OCI_INDEX)
            raise LayoutError("not a cache directory: index.json is missing", where=str(self.root))
        if not inside(self.root, self.index_path):
            raise LayoutError("index.json is a symlink pointing outside the directory",
                              where=str(self.root))
        with flocked(self.lock_path, exclusive=False, required=False) if lock \
                else contextlib.nullcontext():
            try:
                with open(self.index_path, "rb") as handle:
                    raw = handle.read(MAX_INDEX_BYTES + 1)
            except OSError as exc:
                raise LayoutError(f"cannot read index.json: {exc.strerror}",
                                  where=str(self.root)) from None
        return self._parse_index(raw)

    def _parse_index(self, raw: bytes) -> Index:
        where = str(self.index_path)
        if len(raw) > MAX_INDEX_BYTES:
            raise TooLarge(f"index.json is over {MAX_INDEX_BYTES} bytes", where=where)
        try:
            index = msgspec.json.decode(raw, type=Index)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            raise FormatError(f"malformed JSON: {exc}", where=where) from None
        if index.schema_version != 2:
            raise FormatError(f"schemaVersion is {index.schema_version}, expected 2", where=where)
        for position, entry in enumerate(index.manifests):
            if entry.media_type not in mt.TOP_LEVEL_TYPES:
                raise FormatError(
                    f"manifests[{position}] has unsupported media type {entry.media_type!r}",
                    where=where,
                )
        return index

    def tag_entries_sync(self) -> list[tuple[str, Descriptor]]:
        """(tag, descriptor) per tagged entry, in ``index.json`` order; untagged ones skipped."""
        entries = []
        for descriptor in self.read_index_sync().manifests:
            tag = tag_of(descriptor)
            if tag is not None:
                entries.append((tag, descriptor))
        return entries

    async def list_tags(self) -> list[str]:
        entries = await asyncio.to_thread(self.tag_entries_sync)
        return sorted({tag for tag, _ in entries})

    async def resolve(self, tag: str) -> Descriptor:
        entries = await asyncio.to_thread(self.read_index_sync)
        # BuildKit looks up io.containerd.image.name first, then the OCI ref name.
        for key in (mt.ANNOTATION_CONTAINERD_NAME, mt.ANNOTATION_REF_NAME):
            for descriptor in reversed(entries.manifests):
                if descriptor.annotation(key) == tag:
                    return descriptor
        raise NotFound(f"no tag {tag!r}", where=str(self.root))

    # -- reading ----------------------------------------------------------------------------
    def _read_small_sync(self, descriptor: Descriptor, limit: int) -> bytes:
        digest = Digest(descriptor.digest)
        where = f"{self.root}: blob {digest.short}"
        if descriptor.size > limit:
            raise TooLarge(f"{descriptor.size} bytes, over the {limit} byte limit", where=where)
        path = self._checked_blob_path(digest)
        try:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
        except FileNotFoundError:
            raise NotFound("blob is missing", where=where) from None
        except OSError as exc:
            raise LayoutError(f"cannot read blob: {exc.strerror}", where=where) from None
        if len(data) > limit:
            raise TooLarge(f"over the {limit} byte limit", where=where)
        verifier = Verifier(digest, descriptor.size, where=where)
        verifier.update(data)
        verifier.verify()
        return data

    async def read_blob(self, descriptor: Descriptor, *, limit: int = MAX_CONFIG_BYTES) -> bytes:
        return await asyncio.to_thread(self._read_small_sync, descriptor, limit)

    def get_manifest_sync(self, reference: str) -> TopObject:
        if is_digest(reference):
            matches = [d for d in self.read_index_sync().manifests if d.digest == reference]
            descriptor = matches[0] if matches else None
            if descriptor is None:
                path = self._checked_blob_path(reference)
                if not path.exists():
                    raise NotFound(f"no manifest {Digest(reference).short}", where=str(self.root))
                size = path.stat().st_size
                descriptor = Descriptor(media_type="", digest=reference, size=size)
        else:
            descriptor = self._resolve_sync(reference)
        raw = self._read_small_sync(descriptor, limit=4 * 1024 * 1024)
        return parse_top(raw, media_type=descriptor.media_type or None,
                         where=f"{self.root}: manifest {Digest(descriptor.digest).short}")

    def _resolve_sync(self, tag: str) -> Descriptor:
        index = self.read_index_sync()
        for key in (mt.ANNOTATION_CONTAINERD_NAME, mt.ANNOTATION_REF_NAME):
            for descriptor in reversed(index.manifests):
                if descriptor.annotation(key) == tag:
                    return descriptor
        raise NotFound(f"no tag {tag!r}", where=str(self.root))

    async def get_manifest(self, reference: str) -> TopObject:
        return await asyncio.to_thread(self.get_manifest_sync, reference)

    async def blob_size(self, digest: Digest) -> int | None:
        path = self._checked_blob_path(digest)
        try:
            return (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError:
            return None

    def has_verified_blob_sync(self, descriptor: Descriptor) -> bool:
        """Whether the blob's file holds exactly the declared content; refreshes its mtime first.

        A writer that is about to reuse a blob touches it before checking it, so a concurrent gc
        (which spares blobs younger than its grace period and re-checks mtimes under the lock)
        leaves it alone; a corrupt file of the right size is reported absent, so it is rewritten.
        """
        digest = Digest(descriptor.digest)
        path = self._checked_blob_path(digest)
        try:
            before = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return False
        if before.st_size != descriptor.size:
            return False
        identity = (before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns)
        known = self._verified.get(digest) == identity
        with contextlib.suppress(OSError):  # not ours to touch: the lock check still guards
            os.utime(path)
        if not known and not self._hash_matches(path, digest, descriptor.size):
            self._verified.pop(digest, None)
            return False
        with contextlib.suppress(OSError):
            after = os.stat(path)
            self._verified[digest] = (after.st_dev, after.st_ino, after.st_size, after.st_mtime_ns)
        return True

    @staticmethod
    def _hash_matches(path: Path, digest: Digest, size: int) -> bool:
        verifier = Verifier(digest, size, where=str(path))
        try:
            with open(path, "rb") as handle:
                while chunk := handle.read(CHUNK_SIZE):
                    verifier.update(chunk)
            verifier.verify()
        except (OSError, DigestMismatch):
            return False
        return True

    async def has_verified_blob(self, descriptor: Descriptor) -> bool:
        return await asyncio.to_thread(self.has_verified_blob_sync, descriptor)

    def missing_below_sync(self, top: Descriptor) -> list[str]:
        """Blobs that ``top`` (a manifest or index) reaches and that are not here at their size.

        Run under the exclusive lock just before a tag is written: gc decides and deletes under
        that lock too, so what this finds present stays present once the tag names it.
        """
        missing: list[str] = []
        seen: set[str] = set()
        stack = [top]
        while stack:
            descriptor = stack.pop()
            if descriptor.digest in seen:
                continue
            seen.add(descriptor.digest)
            try:
                size = self._checked_blob_path(descriptor.digest).stat().st_size
            except (FileNotFoundError, NotADirectoryError):
                size = -1
            if size != descriptor.size:
                missing.append(descriptor.digest)
                continue
            if descriptor.media_type in mt.TOP_LEVEL_TYPES:
                raw = self._read_small_sync(descriptor, limit=4 * 1024 * 1024)
                stack.extend(parse_top(raw, media_type=descriptor.media_type,
                                       where=f"{self.root}: manifest {descriptor.digest[7:19]}")
                             .children())
        return sorted(missing)

    async def open_blob(self, descriptor: Descriptor) -> AsyncIterator[bytes]:
        digest = Digest(descriptor.digest)
        where = f"{self.root}: blob {digest.short}"
        path = self._checked_blob_path(digest)
        try:
            handle = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError:
            raise NotFound("blob is missing", where=where) from None
        except OSError as exc:
            raise LayoutError(f"cannot read blob: {exc.strerror}", where=where) from None
        try:
            size = os.fstat(handle.fileno()).st_size
            if size != descriptor.size:
                raise DigestMismatch(f"file is {size} bytes, expected {descriptor.size}",
                                     where=where)
            verifier = Verifier(digest, descriptor.size, where=where)
            pending: bytes | None = None
            while True:
                chunk = await asyncio.to_thread(handle.read, CHUNK_SIZE)
                if not chunk:
                    break
                verifier.update(chunk)
                if pending is not None:
                    yield pending
                pending = chunk
            verifier.verify()  # before the last chunk is handed over
            if pending is not None:
                yield pending
        finally:
            handle.close()

    # -- scanning ---------------------------------------------------------------------------
    def scan_blobs_sync(self) -> dict[str, BlobFile]:
        """Every blob file under ``blobs/<alg>/`` (names that are not digests are ignored)."""
        out: dict[str, BlobFile] = {}
        blobs = self.root / "blobs"
        if not blobs.is_dir():
            return out
        for algorithm in ("sha256", "sha512"):
            directory = blobs / algorithm
            if not directory.is_dir():
                continue
            with os.scandir(directory) as entries:
                for entry in entries:
                    digest = f"{algorithm}:{entry.name}"
                    if not is_digest(digest):
                        continue
                    stat = entry.stat(follow_symlinks=False)
                    out[digest] = BlobFile(Digest(digest), stat.st_size, stat.st_mtime)
        return out

    def scan_ingest_sync(self) -> list[IngestEntry]:
        """``ingest/`` entries, then the temp files of cachetui writes that were cut short."""
        ingest = self.root / "ingest"
        out: list[IngestEntry] = []
        if not ingest.is_dir():
            return sorted(self.scan_leftovers_sync(), key=lambda item: item.name)
        with os.scandir(ingest) as entries:
            for entry in entries:
                data = Path(entry.path) / "data"
                try:
                    stat = data.stat() if data.exists() else entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                out.append(IngestEntry(entry.name, stat.st_size, stat.st_mtime))
        out.extend(self.scan_leftovers_sync())
        return sorted(out, key=lambda item: item.name)

    def scan_leftovers_sync(self) -> list[IngestEntry]:
        """Temp files of atomic writes killed between write and rename (named by root-relative
        path): garbage once older than any write in progress could be."""
        out: list[IngestEntry] = []
        for relative in LEFTOVER_DIRS:
            directory = self.root / relative
            if not directory.is_dir():
                continue
            with os.scandir(directory) as entries:
                for entry in entries:
                    if not LEFTOVER.match(entry.name) or not entry.is_file(follow_symlinks=False):
                        continue
                    stat = entry.stat(follow_symlinks=False)
                    name = f"{relative}/{entry.name}" if relative else entry.name
                    out.append(IngestEntry(name, stat.st_size, stat.st_mtime))
        return out

    def leftover_path(self, name: str) -> Path | None:
        """The file a leftover name from :meth:`scan_leftovers_sync` means, or None if it is not
        one (so a crafted name can never reach another file)."""
        relative, _, base = name.rpartition("/")
        if relative not in LEFTOVER_DIRS or not LEFTOVER.match(base):
            return None
        return self.root / relative / base if relative else self.root / base

    def reachability_sync(self, *, roots: list[Descriptor] | None = None,
                          locked: bool = False) -> Reachability:
        """Walk index.json → manifests/indexes → children, as BuildKit's ``reset=true`` does.

        ``roots`` walks from those entries instead of index.json (what would survive if only they
        stayed: a prune plan); ``locked`` says the caller already holds ``index.json.lock``.
        """
        result = Reachability()
        entries = roots if roots is not None else self.read_index_sync(lock=not locked).manifests
        result.blobs = self.scan_blobs_sync()
        stack = list(entries)
        while stack:
            descriptor = stack.pop()
            if descriptor.digest in result.reachable:
                continue
            result.reachable.add(descriptor.digest)
            if descriptor.digest not in result.blobs:
                result.missing.add(descriptor.digest)
                continue
            if descriptor.media_type in mt.TOP_LEVEL_TYPES:
                try:
                    raw = self._read_small_sync(descriptor, limit=4 * 1024 * 1024)
                    top = parse_top(raw, media_type=descriptor.media_type,
                                    where=f"{self.root}: manifest {descriptor.digest[7:19]}")
                except CachetuiError as exc:
                    result.problems.append(str(exc))
                    continue
                stack.extend(top.children())
        result.ingest = self.scan_ingest_sync()
        return result

    async def reachability(self) -> Reachability:
        return await asyncio.to_thread(self.reachability_sync)

    async def unreferenced_bytes(self) -> int:
        """Bytes of blobs no tag reaches (what BuildKit's ``reset=true`` would delete)."""
        return (await self.reachability()).unreferenced_bytes

    # -- writing ----------------------------------------------------------------------------
    def _ensure_layout_sync(self) -> None:
        self.check_writable()
        blobs = self.root / "blobs" / "sha256"
        if not blobs.is_dir():
            blobs.mkdir(parents=True, exist_ok=True)
            for directory in (blobs.parent, self.root, self.root.parent):
                fsync_dir(directory)  # the new directories survive a crash
        layout = self.root / "oci-layout"
        if not layout.exists():
            atomic_write(layout, OCI_LAYOUT_BYTES)

    async def put_blob(self, descriptor: Descriptor, chunks: AsyncIterable[bytes]) -> None:
        """Write a blob, or keep the one here when it verifies (as every store skips a blob it
        has); a corrupt file of the right size is rewritten."""
        digest = Digest(descriptor.digest)
        where = f"{self.root}: blob {digest.short}"
        self.check_writable()
        if await self.has_verified_blob(descriptor):
            closer = getattr(chunks, "aclose", None)
            if closer is not None:
                await closer()
            return
        await asyncio.to_thread(self._ensure_layout_sync)
        final = self._checked_blob_path(digest)
        tmp = temp_name(final.parent, digest.hex[:16])
        verifier = Verifier(digest, descriptor.size, where=where)
        handle = await asyncio.to_thread(_open_new, tmp)
        try:
            async for chunk in chunks:
                verifier.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
            verifier.verify()
            await asyncio.to_thread(_flush, handle)
            os.fchmod(handle.fileno(), 0o444)
            os.replace(tmp, final)  # still open, so still locked: no gc takes it first
            handle.close()
            await asyncio.to_thread(fsync_dir, final.parent)
        except BaseException:
            handle.close()
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def stage_blob_sync(self) -> StagedBlob:
        """A temp file in ``blobs/sha256`` (see :class:`~cachetui.store.base.StagesBlobs`): a
        re-encoded layer is written once, where it will stay. Flocked while open, so a
        concurrent gc leaves it; a killed write leaves a leftover gc removes."""
        self._ensure_layout_sync()
        directory = self._checked_blob_path(f"sha256:{'0' * 64}").parent
        return _Staged(self, temp_name(directory, "staged"))

    async def put_bytes(self, descriptor: Descriptor, data: bytes) -> None:
        async def once() -> AsyncIterator[bytes]:
            yield data

        await self.put_blob(descriptor, once())

    async def mount_blob(self, descriptor: Descriptor, source: Store) -> bool:
        return False

    def update_index_sync(self, change: IndexChange) -> None:
        """Apply ``change`` to index.json under the exclusive flock, atomically."""
        self._ensure_layout_sync()  # (refuses a read-only store)
        with flocked(self.lock_path, exclusive=True, required=True):
            if self.index_path.exists():
                with open(self.index_path, "rb") as handle:
                    current = self._parse_index(handle.read(MAX_INDEX_BYTES + 1))
            else:
                current = Index(schema_version=2, manifests=[], media_type=mt.OCI_INDEX)
            manifests = change(list(current.manifests))
            updated = Index(schema_version=2, manifests=manifests, media_type=mt.OCI_INDEX)
            atomic_write(self.index_path, encode_json(updated))

    async def put_manifest(self, top: TopObject, tag: str | None) -> None:
        await self.put_bytes(top.descriptor, top.raw)
        if tag is None:
            return
        validate_tag(tag)
        entry = Descriptor(
            media_type=top.media_type,
            digest=top.digest,
            size=len(top.raw),
            annotations={mt.ANNOTATION_REF_NAME: tag},
        )

        def put(manifests: list[Descriptor]) -> list[Descriptor]:
            missing = self.missing_below_sync(entry)
            if missing:
                raise BlobsMissing(missing, where=str(self.root))
            # As BuildKit's client: drop earlier entries of this ref name, then append.
            kept = [
                d for d in manifests
                if not (d.annotation(mt.ANNOTATION_REF_NAME) == tag
                        and d.annotation(mt.ANNOTATION_CONTAINERD_NAME) is None)
            ]
            return [*kept, entry]

        await asyncio.to_thread(self.update_index_sync, put)

    async def delete_tag(self, tag: str) -> None:
        def drop(manifests: list[Descriptor]) -> list[Descriptor]:
            kept = [d for d in manifests if tag_of(d) != tag]
            if len(kept) == len(manifests):
                raise NotFound(f"no tag {tag!r}", where=str(self.root))
            return kept

        await asyncio.to_thread(self.update_index_sync, drop)

    async def delete_manifest(self, digest: Digest) -> None:
        def drop(manifests: list[Descriptor]) -> list[Descriptor]:
            kept = [d for d in manifests if d.digest != digest]
            if len(kept) == len(manifests):
                raise NotFound(f"no manifest {digest.short} in index.json", where=str(self.root))
            return kept

        await asyncio.to_thread(self.update_index_sync, drop)

    # -- capabilities: Untags, CollectsGarbage (the work is done by LayoutMaintenance) ---------
    async def untag(self, entries: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        return await LayoutMaintenance(self).untag(entries)

    async def plan_garbage(self, *, grace: timedelta,
                           without: Collection[tuple[str, str]] = ()) -> GcPlan:
        return await LayoutMaintenance(self).plan(grace=grace, without=without)

    async def collect_garbage(self, plan: GcPlan, *, progress: ProgressSink | None = None,
                              cancel: CancelToken | None = None) -> GcResult:
        return await LayoutMaintenance(self).sweep(plan, progress=progress or no_progress,
                                                   cancel=cancel)

    async def aclose(self) -> None:
        return None


def _open_new(path: Path) -> BufferedWriter:
    """A new temp file opened without following symlinks (see :func:`create_new`)."""
    return os.fdopen(create_new(path), "wb")


def _flush(handle: BufferedWriter) -> None:
    handle.flush()
    os.fsync(handle.fileno())


class _Staged:
    """A blob written straight into ``blobs/sha256`` and renamed once its digest is known."""

    def __init__(self, store: LayoutStore, path: Path) -> None:
        self._store = store
        self._path = path
        self._handle = _open_new(path)

    @property
    def file(self) -> BinaryIO:
        return self._handle

    @property
    def path(self) -> Path:
        return self._path

    def commit(self, descriptor: Descriptor) -> bool:
        digest = Digest(descriptor.digest)
        where = f"{self._store.root}: blob {digest.short}"
        final = self._store._checked_blob_path(digest)
        try:
            self._handle.flush()
            size = os.fstat(self._handle.fileno()).st_size
            if size != descriptor.size:
                raise DigestMismatch(f"staged file is {size} bytes, expected {descriptor.size}",
                                     where=where)
            if final.parent != self._path.parent:
                raise LayoutError("staged blob is not in its blob directory", where=where)
            if self._store.has_verified_blob_sync(descriptor):
                self.discard()
                return False
            os.fsync(self._handle.fileno())
            os.fchmod(self._handle.fileno(), 0o444)
            os.replace(self._path, final)  # still open, so still locked: no gc takes it first
        except BaseException:
            self.discard()
            raise
        self._handle.close()
        fsync_dir(final.parent)
        return True

    def discard(self) -> None:
        self._handle.close()
        with contextlib.suppress(OSError):
            self._path.unlink()

"""A content-addressed on-disk cache of manifests and cache configs (the warm start).

Objects are kept by digest under ``$XDG_CACHE_HOME/cachetui/objects/`` (``~/.cache`` when unset;
``CACHETUI_CACHE_DIR`` overrides): a digest names its bytes forever, so nothing is ever stale, and
every read is checked against its digest (a damaged file is a miss, and is removed). Beside them,
per location, the digest each tag had when it was last listed (``tags/``): with those, a second
look at an unchanged repository only resolves tags (one HEAD each), and the TUI can paint the last
known inventory before any answer arrives.

Safe under concurrent processes without locks: every file is written to a unique temp name and
renamed into place (readers see a whole file or none; two writers of one digest write the same
bytes), and an object that another process evicts between a check and a read is just a miss.
Bounded: past :data:`DEFAULT_MAX_BYTES`, the least recently used objects (by mtime, refreshed on
every hit) are evicted down to 80%. ``--no-cache`` or ``CACHETUI_NO_CACHE=1`` turns it off;
``cachetui cache clear`` empties it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import time
from pathlib import Path
from typing import Final

from cachetui.oci.digest import is_digest

DEFAULT_MAX_BYTES: Final = 256 * 1024 * 1024
"""Bound on the objects' total size (configs of big caches are MiBs; manifests KiBs)."""
MAX_OBJECT_BYTES: Final = 32 * 1024 * 1024
"""Larger objects are not kept (they would push out hundreds of small ones)."""
STALE_TEMP_SECONDS: Final = 3600.0
"""Temp files older than this belong to a process that died mid-write: removed on eviction."""
MAX_TAGS_PER_LOCATION: Final = 100_000
_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)


def cache_root() -> Path:
    """Where the cache lives (``CACHETUI_CACHE_DIR``, else the XDG cache directory)."""
    explicit = os.environ.get("CACHETUI_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cachetui"


_SERIAL = itertools.count()


def _write_atomically(path: Path, data: bytes) -> None:
    """Unique temp name (pid, thread-safe counter), then rename: concurrent readers never see a
    partial file, and two writers of one name write the same bytes."""
    tmp = path.parent / f".tmp-{os.getpid()}-{next(_SERIAL)}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:  # os.write, not a file object: thousands of small objects per listing
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class DiskCache:
    """Objects by digest, and the last known tag → digest map of each location."""

    def __init__(self, root: Path | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root if root is not None else cache_root()
        self.max_bytes = max_bytes
        self._objects = self.root / "objects"
        self._tags = self.root / "tags"
        self._written = 0
        self.hits = 0
        self.misses = 0

    def _path(self, digest: str) -> Path | None:
        if not is_digest(digest):
            return None
        algorithm, hex_part = digest.split(":", 1)
        return self._objects / algorithm / hex_part[:2] / hex_part

    def get(self, digest: str) -> bytes | None:
        """The bytes of ``digest`` if cached and intact; refreshes its place in the LRU order."""
        path = self._path(digest)
        if path is None:
            return None
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_OBJECT_BYTES + 1)
        except OSError:  # absent, or evicted by another process a moment ago
            self.misses += 1
            return None
        algorithm = digest.split(":", 1)[0]
        if hashlib.new(algorithm, data).hexdigest() != digest.split(":", 1)[1]:
            with contextlib.suppress(OSError):
                path.unlink()
            self.misses += 1
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        self.hits += 1
        return data

    def has(self, digest: str) -> bool:
        path = self._path(digest)
        return path is not None and path.is_file()

    def put(self, digest: str, data: bytes, *, verified: bool = False) -> None:
        """Keep ``data`` under ``digest`` (checked, unless the caller has just ``verified`` it:
        a wrong digest is never stored). Best effort: a full or read-only disk only costs the
        warm start. An object already kept is written again (the same bytes, renamed over it):
        cheaper than a check before every write, which almost always finds nothing."""
        path = self._path(digest)
        if path is None or len(data) > MAX_OBJECT_BYTES:
            return
        algorithm = digest.split(":", 1)[0]
        if not verified and hashlib.new(algorithm, data).hexdigest() != digest.split(":", 1)[1]:
            return
        try:
            _write_atomically(path, data)
        except OSError:
            return
        self._written += len(data)
        if self._written > self.max_bytes // 8:
            self._written = 0
            self.evict()

    # -- tags ----------------------------------------------------------------------------------

    def _tags_path(self, location: str) -> Path:
        return self._tags / (hashlib.sha256(location.encode()).hexdigest()[:32] + ".json")

    def known_tags(self, location: str) -> dict[str, str]:
        """Tag → digest as last listed at ``location`` (empty when never listed or unreadable)."""
        try:
            loaded = json.loads(self._tags_path(location).read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(loaded, dict) or loaded.get("location") != location:
            return {}
        tags = loaded.get("tags")
        if not isinstance(tags, dict):
            return {}
        return {str(tag): str(digest) for tag, digest in tags.items()
                if isinstance(digest, str) and is_digest(digest)}

    def remember_tags(self, location: str, tags: dict[str, str]) -> None:
        """Replace the last known tags of ``location`` (the whole listing just made)."""
        if len(tags) > MAX_TAGS_PER_LOCATION:
            return
        data = json.dumps({"location": location, "saved": time.time(), "tags": tags},
                          separators=(",", ":")).encode()
        with contextlib.suppress(OSError):
            _write_atomically(self._tags_path(location), data)

    # -- size ----------------------------------------------------------------------------------

    def evict(self) -> int:
        """Remove least recently used objects until the total is under 80% of the bound, and
        temp files a dead writer left; returns the bytes removed."""
        entries: list[tuple[float, int, str]] = []
        total = 0
        now = time.time()
        for directory, _, files in os.walk(self._objects):
            for name in files:
                path = os.path.join(directory, name)
                try:
                    info = os.stat(path)
                except OSError:
                    continue
                if name.startswith(".tmp-"):
                    if now - info.st_mtime > STALE_TEMP_SECONDS:
                        with contextlib.suppress(OSError):
                            os.unlink(path)
                    continue
                total += info.st_size
                entries.append((info.st_mtime, info.st_size, path))
        removed = 0
        if total <= self.max_bytes:
            return 0
        entries.sort()
        target = self.max_bytes * 8 // 10
        for _, size, path in entries:
            if total <= target:
                break
            with contextlib.suppress(OSError):
                os.unlink(path)
                total -= size
                removed += size
        return removed

    def usage(self) -> tuple[int, int]:
        """(objects, bytes) currently cached."""
        count = size = 0
        for directory, _, files in os.walk(self._objects):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                with contextlib.suppress(OSError):
                    size += os.stat(os.path.join(directory, name)).st_size
                    count += 1
        return count, size

    def clear(self) -> int:
        """Remove everything; returns the bytes the objects took."""
        _, size = self.usage()
        for part in (self._objects, self._tags):
            shutil.rmtree(part, ignore_errors=True)
        return size


_DISABLED = False


def disable() -> None:
    """``--no-cache``: nothing is read from or written to the disk cache in this process."""
    global _DISABLED
    _DISABLED = True


def default_cache() -> DiskCache | None:
    """The user's cache, or None when turned off (``--no-cache``, ``CACHETUI_NO_CACHE=1``)."""
    if _DISABLED or os.environ.get("CACHETUI_NO_CACHE", "") not in ("", "0"):
        return None
    return DiskCache()

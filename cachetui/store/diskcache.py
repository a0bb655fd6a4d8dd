"""A content-addressed on-disk cache of manifests and cache configs (the warm start).

Objects are kept by digest in one SQLite database, ``$XDG_CACHE_HOME/cachetui/cache.sqlite3``
(``~/.cache`` when unset; ``CACHETUI_CACHE_DIR`` overrides): a digest names its bytes forever, so
nothing is ever stale, and every read is checked against its digest (a damaged row is a miss, and
is removed). Beside them, per location, the digest each tag had when it was last listed: with
those, a second look at an unchanged repository only resolves tags (one HEAD each), and the TUI
can paint the last known inventory before any answer arrives.

Why SQLite and not a file per object: creating a small file costs 0.5-0.8 ms of kernel time on
the machines this was measured on, so a cold listing of 300 caches spent 0.4 s (a third of its
time) writing 600 files; the same rows cost SQLite 20-40 ms (``bench/bench_diskcache.py``).
SQLite also gives what the files needed care for: concurrent processes (WAL: readers never wait,
writers take turns under a busy timeout), atomic writes, and an LRU order without a ``utime`` per
hit on a file.

Writes are committed by a thread of their own, on a connection of its own: a commit of 256
objects took 4-31 ms (31 with a WAL checkpoint's ``fsync``; 48 commits, 0.30 s of wall time and
0.18 s of CPU in a cold ``ls`` of 3,000 caches), and a write waiting for another process's may
wait :data:`BUSY_SECONDS`: on the caller's thread that was the event loop, a TUI frozen
meanwhile. Reads go on at once (WAL: a reader never waits for a writer), and see what is handed
to the writer before it is committed.

Best effort throughout: a locked, read-only, full or damaged database costs the warm start,
never a command (a damaged file is replaced by a fresh one). Bounded: past
:data:`DEFAULT_MAX_BYTES`, the least recently used objects are evicted down to 80%.
``--no-cache`` or ``CACHETUI_NO_CACHE=1`` turns it off; ``cachetui cache clear`` empties it.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import queue
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from cachetui.oci.digest import is_digest

DEFAULT_MAX_BYTES: Final = 256 * 1024 * 1024
"""Bound on the objects' total size (configs of big caches are MiBs; manifests KiBs)."""
MAX_OBJECT_BYTES: Final = 32 * 1024 * 1024
"""Larger objects are not kept (they would push out hundreds of small ones)."""
MAX_TAGS_PER_LOCATION: Final = 100_000
BUSY_SECONDS: Final = 2.0
"""How long a write waits for another process's write before giving up (it is only a cache)."""
DATABASE: Final = "cache.sqlite3"
MAX_WAITING_BATCHES: Final = 8
"""Batches handed to the writer and not committed yet, at most (one is at most
:data:`FLUSH_BYTES`, plus one object): past it, while another process holds the write lock for
long, new writes are dropped (later misses), so memory stays bounded."""
FLUSH_OBJECTS: Final = 256
FLUSH_BYTES: Final = 8 * 1024 * 1024
"""Writes (new objects, LRU refreshes) are kept in memory and committed together past these, at
the end of a listing, and at exit: one commit per object cost a listing 0.1 ms each."""
_LEGACY: Final = ("objects", "tags")
"""Directories of the file-per-object layout this replaced; removed by eviction and ``clear``."""
_SCHEMA: Final = """
create table if not exists objects (
    digest text primary key, data blob not null, size integer not null, used real not null);
create index if not exists objects_by_use on objects (used);
create table if not exists tags (location text primary key, saved real not null, tags text not null);
"""


def cache_root() -> Path:
    """Where the cache lives (``CACHETUI_CACHE_DIR``, else the XDG cache directory)."""
    explicit = os.environ.get("CACHETUI_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cachetui"


def _matches(digest: str, data: bytes) -> bool:
    algorithm, hex_part = digest.split(":", 1)
    try:
        return hashlib.new(algorithm, data).hexdigest() == hex_part
    except ValueError:  # an algorithm hashlib does not know
        return False


Batch = dict[str, tuple[bytes | None, float]]
"""Digest → (new bytes, or None for a refreshed LRU time; when used)."""
Write = Callable[[sqlite3.Connection], object]


class _Writer:
    """One thread running writes in order on its own connection (see the module text)."""

    def __init__(self, opener: Callable[[], sqlite3.Connection], failed: Callable[[], None]
                 ) -> None:
        self.pid = os.getpid()
        self._opener = opener
        self._failed = failed
        self._queue: queue.Queue[tuple[Write, Callable[[], None]]] = queue.Queue()
        self._connection: sqlite3.Connection | None = None
        self._broken = False
        threading.Thread(target=self._run, name="cachetui-disk-cache", daemon=True).start()

    def submit(self, write: Write, done: Callable[[], None]) -> None:
        """Run ``write`` after every write submitted before it; ``done`` follows, even when the
        write failed (it is only a cache: a failed write is a later miss)."""
        self._queue.put((write, done))

    def wait(self) -> None:
        """Until every write submitted so far has run."""
        self._queue.join()

    def _run(self) -> None:
        while True:
            write, done = self._queue.get()
            try:
                self._write(write)
            finally:
                done()
                self._queue.task_done()

    def _write(self, write: Write) -> None:
        if self._broken:
            return
        try:
            if self._connection is None:
                self._connection = self._opener()
            write(self._connection)
        except Exception as exc:
            # A cache's write must never end the thread (whoever waits for it would wait
            # forever): it fails, and what it wrote is a miss later.
            connection = self._connection
            if connection is not None and connection.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    connection.rollback()
            if isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                    exc, sqlite3.OperationalError):  # damaged under us
                self._broken = True
                self._failed()
                if connection is not None:
                    with contextlib.suppress(sqlite3.Error):
                        connection.close()
                self._connection = None


class DiskCache:
    """Objects by digest, and the last known tag → digest map of each location.

    Reads use one connection per process, opened on first use and shared by threads under a lock
    (a listing reads the last known inventory in a thread while the event loop writes); writes
    go to a thread with its own connection. ``clock`` orders the LRU (tests pass their own).
    """

    def __init__(self, root: Path | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 clock: Callable[[], float] = time.time) -> None:
        self.root = root if root is not None else cache_root()
        self.max_bytes = max_bytes
        self.clock = clock
        self.path = self.root / DATABASE
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid = 0
        self._unusable = False
        self._written = 0
        self._pending: Batch = {}
        """Writes kept in memory, not handed to the writer yet."""
        self._handed: list[Batch] = []
        """Batches handed to the writer and not committed yet: reads see them."""
        self._tags_handed: dict[str, dict[str, str]] = {}
        """Location → tags handed to the writer and not committed yet."""
        self._writer: _Writer | None = None
        self._pending_bytes = 0
        self.hits = 0
        self.misses = 0

    # -- the connection ------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        if self.path.is_symlink():  # the database is ours; a link could point anywhere
            raise sqlite3.OperationalError(f"{self.path} is a symbolic link")
        self.root.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None,
                                     check_same_thread=False)
        try:
            # auto_vacuum only takes on a new file, before any table: eviction then shrinks it.
            connection.execute("pragma auto_vacuum = incremental")
            connection.execute("pragma journal_mode = wal")
            connection.execute("pragma synchronous = normal")  # a cache: no fsync per commit
            connection.executescript(_SCHEMA)
        except BaseException:
            connection.close()
            raise
        return connection

    def _connect(self) -> sqlite3.Connection | None:
        """The connection of this process (a forked child opens its own), or None when the
        cache cannot be used here (read-only, locked for too long, not a directory...)."""
        if self._connection is not None and self._pid == os.getpid():
            return self._connection
        if self._unusable:
            return None
        try:
            try:
                self._connection = self._open()
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError):
                    raise
                self._remove_database()  # damaged (not a database): start a fresh one
                self._connection = self._open()
        except (sqlite3.Error, OSError):
            self._unusable = True
            return None
        if self._pid == 0:
            atexit.register(self.flush)
        self._pid = os.getpid()
        return self._connection

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection | None]:
        """The connection under the lock; an SQLite error inside is a miss, not a failure."""
        with self._lock:
            connection = self._connect()
            try:
                yield connection
            except sqlite3.DatabaseError as exc:
                if connection is not None and connection.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        connection.rollback()
                if not isinstance(exc, sqlite3.OperationalError):  # damaged under us
                    self._close()
                    self._unusable = True

    def _close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.close()
        self._connection = None

    def _remove_database(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")

    # -- objects -------------------------------------------------------------------------------

    def get(self, digest: str) -> bytes | None:
        """The bytes of ``digest`` if cached and intact; refreshes its place in the LRU order."""
        found: bytes | None = None
        if is_digest(digest):
            with self._db() as db:
                found = self._waiting(digest)
                if found is not None:  # used now, as a read from the database would say
                    kept = self._pending.get(digest)
                    self._pending[digest] = (kept[0] if kept else None, self.clock())
                elif db is not None:
                    row = db.execute("select data from objects where digest = ?",
                                     (digest,)).fetchone()
                    if row is not None and _matches(digest, row[0]):
                        found = bytes(row[0])
                        self._pending[digest] = (None, self.clock())
                    elif row is not None:
                        db.execute("delete from objects where digest = ?", (digest,))
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def has(self, digest: str) -> bool:
        if not is_digest(digest):
            return False
        with self._db() as db:
            if self._waiting(digest) is not None:
                return True
            if db is not None:
                return db.execute("select 1 from objects where digest = ?",
                                  (digest,)).fetchone() is not None
        return False

    def _waiting(self, digest: str) -> bytes | None:
        """(Under the lock.) The bytes of ``digest`` written but not committed yet."""
        for batch in (self._pending, *reversed(self._handed)):
            waiting = batch.get(digest)
            if waiting is not None and waiting[0] is not None:
                return waiting[0]
        return None

    def put(self, digest: str, data: bytes, *, verified: bool = False) -> None:
        """Keep ``data`` under ``digest`` (checked, unless the caller has just ``verified`` it:
        a wrong digest is never stored). An object kept already only moves up the LRU order."""
        if not is_digest(digest) or len(data) > MAX_OBJECT_BYTES:
            return
        if not verified and not _matches(digest, data):
            return
        with self._db() as db:
            if db is None:
                return
            waiting = self._pending.get(digest)
            if waiting is None or waiting[0] is None:
                self._pending_bytes += len(data)
                self._written += len(data)
            self._pending[digest] = (data, self.clock())
            if len(self._pending) >= FLUSH_OBJECTS or self._pending_bytes >= FLUSH_BYTES:
                self._hand_over()
            if self._written > self.max_bytes // 8:  # what is kept counts: it is handed first
                self._written = 0
                self._hand_over()
                self._submit(self._evict_on)

    def flush(self) -> None:
        """Commit the writes kept in memory, and wait until every write is committed."""
        with self._lock:
            if self._connect() is None:
                return
            self._hand_over()
            writer = self._writer
        if writer is not None and writer.pid == os.getpid():
            writer.wait()  # not under the lock: the writer takes it when a batch is done

    def _hand_over(self) -> None:
        """(Under the lock.) The writes kept in memory go to the writer, as one transaction."""
        if not self._pending:
            return
        batch, self._pending, self._pending_bytes = self._pending, {}, 0
        if len(self._handed) >= MAX_WAITING_BATCHES:
            return
        self._handed.append(batch)

        def committed() -> None:
            with self._lock:
                self._handed = [kept for kept in self._handed if kept is not batch]
        self._submit(lambda db: self._commit(db, batch), committed)

    def _submit(self, write: Write, done: Callable[[], None] = lambda: None) -> None:
        """(Under the lock.) ``write`` on the writer's thread, after those submitted before."""
        writer = self._writer
        if writer is None or writer.pid != os.getpid():  # none yet, or a forked child's
            writer = self._writer = _Writer(self._open, self._writer_failed)
        writer.submit(write, done)

    def _writer_failed(self) -> None:
        """The writer found the database damaged: the cache is off for this process."""
        with self._lock:
            self._close()
            self._unusable = True

    @staticmethod
    def _commit(db: sqlite3.Connection, batch: Batch) -> None:
        """New objects and LRU refreshes, in one transaction."""
        db.execute("begin immediate")
        db.executemany("insert into objects (digest, data, size, used) values (?, ?, ?, ?) "
                       "on conflict (digest) do update set used = excluded.used",
                       [(digest, data, len(data), used)
                        for digest, (data, used) in batch.items() if data is not None])
        db.executemany("update objects set used = ? where digest = ?",
                       [(used, digest) for digest, (data, used) in batch.items()
                        if data is None])
        db.execute("commit")

    # -- tags ----------------------------------------------------------------------------------

    def known_tags(self, location: str) -> dict[str, str]:
        """Tag → digest as last listed at ``location`` (empty when never listed or unreadable)."""
        row = None
        with self._db() as db:
            handed = self._tags_handed.get(location)
            if handed is not None:
                return dict(handed)
            if db is not None:
                row = db.execute("select tags from tags where location = ?",
                                 (location,)).fetchone()
        if row is None:
            return {}
        try:
            tags = json.loads(row[0])
        except (ValueError, TypeError, RecursionError):
            return {}
        if not isinstance(tags, dict):
            return {}
        return {str(tag): digest for tag, digest in tags.items()
                if isinstance(digest, str) and is_digest(digest)}

    def remember_tags(self, location: str, tags: dict[str, str]) -> None:
        """Replace the last known tags of ``location`` (the whole listing just made); what the
        listing read is handed to the writer with them."""
        if len(tags) > MAX_TAGS_PER_LOCATION:
            return
        text = json.dumps(tags, separators=(",", ":"))
        with self._db() as db:
            if db is None:
                return
            self._hand_over()
            saved, kept = self.clock(), dict(tags)
            self._tags_handed[location] = kept

            def write(connection: sqlite3.Connection) -> None:
                connection.execute("insert or replace into tags (location, saved, tags) "
                                   "values (?, ?, ?)", (location, saved, text))

            def committed() -> None:
                with self._lock:
                    if self._tags_handed.get(location) is kept:
                        del self._tags_handed[location]
            self._submit(write, committed)

    # -- size ----------------------------------------------------------------------------------

    def evict(self) -> int:
        """Remove least recently used objects until the total is under 80% of the bound (and
        what the old file-per-object layout left); returns the bytes removed."""
        self._remove_legacy()
        self.flush()
        with self._db() as db:
            return 0 if db is None else self._evict_on(db)

    def _evict_on(self, db: sqlite3.Connection) -> int:
        """:meth:`evict` on ``db`` (the writer's connection when a write went past the bound)."""
        self._remove_legacy()
        (total,) = db.execute("select coalesce(sum(size), 0) from objects").fetchone()
        if total <= self.max_bytes:
            return 0
        target = self.max_bytes * 8 // 10
        doomed: list[tuple[str]] = []
        removed = 0
        for digest, size in db.execute("select digest, size from objects order by used"):
            if total - removed <= target:
                break
            doomed.append((digest,))
            removed += size
        db.execute("begin immediate")
        db.executemany("delete from objects where digest = ?", doomed)
        db.execute("commit")
        db.execute("pragma incremental_vacuum")
        return removed

    def usage(self) -> tuple[int, int]:
        """(objects, bytes) currently cached."""
        self.flush()
        with self._db() as db:
            if db is not None:
                count, size = db.execute(
                    "select count(*), coalesce(sum(size), 0) from objects").fetchone()
                return int(count), int(size)
        return 0, 0

    def clear(self) -> int:
        """Remove everything; returns the bytes the objects took. Rows are deleted, not the
        file, so other processes using the cache meanwhile keep a valid one."""
        _, size = self.usage()
        self._remove_legacy()
        with self._db() as db:
            self._pending, self._pending_bytes = {}, 0
            self._tags_handed.clear()
            if db is not None:
                db.execute("delete from objects")
                db.execute("delete from tags")
                db.execute("vacuum")
        if self._unusable and not self.path.is_symlink():  # damaged: a fresh one next time
            self._remove_database()
        return size

    def _remove_legacy(self) -> None:
        for name in _LEGACY:
            legacy = self.root / name
            if legacy.is_dir() and not legacy.is_symlink():
                shutil.rmtree(legacy, ignore_errors=True)


_DISABLED = False


def disable() -> None:
    """``--no-cache``: nothing is read from or written to the disk cache in this process."""
    global _DISABLED
    _DISABLED = True


def default_cache() -> DiskCache | None:
    """The user's cache, or None when turned off (``--no-cache``, ``CACHETUI_NO_CACHE=1``)."""
    if _DISABLED or os.environ.get("CACHETUI_NO_CACHE", "") not in ("", "0"):
        return None
    root = cache_root()
    found = _OPEN.get(root)
    if found is None:
        found = _OPEN[root] = DiskCache(root)
    return found


_OPEN: dict[Path, DiskCache] = {}
"""One cache (one connection, one write buffer) per root in a process."""

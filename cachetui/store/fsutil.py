"""Small, careful file-system helpers: atomic writes, locks, paths that cannot escape a root."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from cachetui.errors import LayoutError


def inside(root: Path, path: Path) -> bool:
    """Whether ``path``, with every symlink resolved, is ``root`` itself or below it."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


NOFOLLOW: int = getattr(os, "O_NOFOLLOW", 0)
"""Never open through a symlink: a planted link would make a write land outside the directory."""


def temp_name(directory: Path, stem: str) -> Path:
    return directory / f".cachetui-{stem}-{secrets.token_hex(6)}.tmp"


def create_new(path: Path, mode: int = 0o644) -> int:
    """A new file for writing, never through a symlink (``O_EXCL`` + ``O_NOFOLLOW``).

    The file is flocked for as long as the descriptor is open: a concurrent gc that finds it
    (a temp file looks like the leftover of a killed write) sees it is in use and leaves it.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, mode)
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def in_use(path: Path) -> bool:
    """Whether a writer holds ``path`` open (see :func:`create_new`): never delete it then."""
    try:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temp file, fsync and rename: all or nothing."""
    tmp = temp_name(path.parent, path.name)
    fd = create_new(tmp, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.replace(tmp, path)  # still open, so still locked: no gc takes it first
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


LockWaitNotice = Callable[[Path, datetime], None]
lock_wait_notice: LockWaitNotice | None = None
"""Called once when a lock is held by another process, before waiting for it (the CLI prints
'waiting for ... since ...'; a silent wait looks like a hang)."""


@contextlib.contextmanager
def flocked(lock_path: Path, *, exclusive: bool, required: bool) -> Iterator[None]:
    """Hold BuildKit's ``index.json.lock`` the way its client does (flock).

    Writers (``required=True``) create the lock file. Readers only take a shared lock on a lock
    file that already exists, and never create one, so looking at a directory never changes it;
    without it they rely on writers replacing index.json atomically.

    The lock file is never opened through a symlink: a (dangling) ``index.json.lock`` link would
    otherwise make every write create or lock a file outside the directory, so a layout whose
    lock is a symlink is refused, for reads and writes alike.
    """
    if lock_path.is_symlink():
        raise symlinked_lock(lock_path)
    if required:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise symlinked_lock(lock_path) from None
            raise LayoutError(f"cannot create lock file: {exc.strerror}",
                              where=str(lock_path)) from None
    else:
        # Readers never create the lock file: a directory we only look at stays untouched.
        try:
            fd = os.open(lock_path, os.O_RDONLY | NOFOLLOW)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise symlinked_lock(lock_path) from None
            yield
            return
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            # Another process (a build, another cachetui) holds it: say so, then wait.
            if lock_wait_notice is not None:
                lock_wait_notice(lock_path, datetime.now(UTC))
            fcntl.flock(fd, mode)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def symlinked_lock(lock_path: Path) -> LayoutError:
    return LayoutError(
        "refusing this directory: index.json.lock is a symlink (it could make writes land "
        "outside the directory); remove the link", where=str(lock_path.parent))

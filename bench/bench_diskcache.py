"""On-disk cache benchmark: why the warm-start cache is one SQLite database, not a file per object.

Writes then reads 600 listing-sized objects (300 manifests of ~1 KB and 300 configs of ~10 KB,
what a cold ``ls`` of 300 distinct caches keeps) through:

- a file per object, each written to a unique temp name and renamed into place (the layout the
  cache used before; reimplemented here as the baseline);
- :class:`cachetui.store.diskcache.DiskCache` (SQLite, WAL, writes committed together).

Prints wall and CPU (user + system) seconds of each, and the ratio; creating files is kernel work
whose cost depends on the filesystem, so the figures are for the machine it runs on.

    .venv/bin/python bench/bench_diskcache.py [ROUNDS]
"""

from __future__ import annotations

import hashlib
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from cachetui.store.diskcache import DiskCache  # noqa: E402

_SERIAL = itertools.count()


def objects() -> list[tuple[str, bytes]]:
    sizes = [1_000 + i for i in range(300)] + [10_000 + i for i in range(300)]
    out = []
    for size in sizes:
        data = os.urandom(size)
        out.append(("sha256:" + hashlib.sha256(data).hexdigest(), data))
    return out


def files_write(root: Path, items: list[tuple[str, bytes]]) -> None:
    for digest, data in items:
        hex_part = digest.split(":", 1)[1]
        path = root / "objects" / "sha256" / hex_part[:2] / hex_part
        tmp = path.parent / f".tmp-{os.getpid()}-{next(_SERIAL)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)


def files_read(root: Path, items: list[tuple[str, bytes]]) -> None:
    for digest, data in items:
        hex_part = digest.split(":", 1)[1]
        path = root / "objects" / "sha256" / hex_part[:2] / hex_part
        got = path.read_bytes()
        assert hashlib.sha256(got).hexdigest() == hex_part and got == data
        os.utime(path)  # the LRU order, as the old cache kept it


def sqlite_write(root: Path, items: list[tuple[str, bytes]]) -> None:
    disk = DiskCache(root)
    for digest, data in items:
        disk.put(digest, data, verified=True)
    disk.flush()  # as the end of a listing does


def sqlite_read(root: Path, items: list[tuple[str, bytes]]) -> None:
    disk = DiskCache(root)
    for digest, data in items:
        assert disk.get(digest) == data
    disk.flush()  # the LRU refreshes


def timed(step: Callable[[], None]) -> tuple[float, float]:
    before, started = os.times(), time.perf_counter()
    step()
    after = os.times()
    return (time.perf_counter() - started,
            after.user - before.user + after.system - before.system)


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    items = objects()
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="cachetui-bench-") as tmp:
        for index in range(rounds):
            files, database = Path(tmp) / f"files-{index}", Path(tmp) / f"sqlite-{index}"
            steps: dict[str, Callable[[], None]] = {
                "files: write": partial(files_write, files, items),
                "files: read": partial(files_read, files, items),
                "sqlite: write": partial(sqlite_write, database, items),
                "sqlite: read": partial(sqlite_read, database, items),
            }
            for name, step in steps.items():
                results.setdefault(name, []).append(timed(step))
    print(f"600 objects (300 x ~1 KB, 300 x ~10 KB), {sum(len(d) for _, d in items)} bytes; "
          f"median of {rounds} rounds")
    medians = {name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
               for name, runs in results.items()}
    for name, (wall, cpu) in medians.items():
        print(f"{name:14s} {wall * 1000:7.1f} ms wall  {cpu * 1000:7.1f} ms CPU")
    for action in ("write", "read"):
        files_wall, sqlite_wall = medians[f"files: {action}"][0], medians[f"sqlite: {action}"][0]
        print(f"{action}: a file per object takes {files_wall / sqlite_wall:.1f}x SQLite's time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

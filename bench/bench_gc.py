"""GC of a cache directory holding 20,000 blobs (budget: 2 s for plan + sweep).

Builds a directory with 5 real tags (generated caches) and about 20,000 small unreferenced blobs
(written directly, mtimes set in the past), then times ``plan_gc`` + ``apply_gc`` in process:
the index walk, the scan of ``blobs/sha256``, and the locked re-check and unlink of every blob.

    .venv/bin/python -m bench.bench_gc
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from cachetui.demo.generator import CacheShape, write_cache
from cachetui.ops.gc import apply_gc, plan_gc
from cachetui.store.layout import LayoutStore

BUDGET_SECONDS = 2.0
TOTAL_BLOBS = 20_000


def build(root: Path) -> int:
    for i in range(5):
        write_cache(root, f"tag-{i}", CacheShape(layer_bytes=256, seed=i))
    blobs = root / "blobs" / "sha256"
    have = sum(1 for _ in blobs.iterdir())
    old = time.time() - 86400
    for i in range(TOTAL_BLOBS - have):
        data = i.to_bytes(4, "big") * 16
        path = blobs / hashlib.sha256(data).hexdigest()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o444)
        os.write(fd, data)
        os.close(fd)
        os.utime(path, (old, old))
    return have


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cache"
        reachable = build(root)
        store = LayoutStore(root)
        start = time.perf_counter()
        plan = plan_gc(store, grace=timedelta(minutes=10))
        planned = time.perf_counter()
        result = asyncio.run(apply_gc(store, plan))
        end = time.perf_counter()
        left = sum(1 for _ in (root / "blobs" / "sha256").iterdir())
    assert result.ok and left == reachable, (result.failed, left, reachable)
    total = end - start
    print(f"blobs={TOTAL_BLOBS} reachable={reachable} deleted={len(result.deleted)}")
    print(f"gc: plan {(planned - start) * 1000:.0f} ms + sweep {(end - planned) * 1000:.0f} ms "
          f"= {total * 1000:.0f} ms (budget {BUDGET_SECONDS * 1000:.0f} ms)")
    return 0 if total < BUDGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())

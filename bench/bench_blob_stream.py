"""Blob streaming benchmark: push a 1 GiB blob once, stream it back verified, report peak RSS.

The blob is generated in 1 MiB chunks (never whole in memory), uploaded with chunked PATCH, then
read through ``RegistryStore.open_blob`` (hash verified while streaming). Goal: peak RSS < 150 MiB.

    .venv/bin/python bench/bench_blob_stream.py [SIZE_MIB]
"""

from __future__ import annotations

import asyncio
import hashlib
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.synthetic_blob import chunk, chunks  # noqa: E402
from cachetui.oci.digest import Digest  # noqa: E402
from cachetui.oci.models import Descriptor  # noqa: E402
from cachetui.store.base import CHUNK_SIZE  # noqa: E402
from cachetui.store.registry import RegistrySession  # noqa: E402
from tests.registry_procs import start_registry  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(host: str, count: int) -> None:
    hasher = hashlib.sha256()
    for i in range(count):
        hasher.update(chunk(i))
    descriptor = Descriptor(media_type="application/octet-stream",
                            digest=Digest(f"sha256:{hasher.hexdigest()}"), size=count * CHUNK_SIZE)
    async with RegistrySession() as session:
        store = session.store(host, "bench/blob")
        started = time.perf_counter()
        await store.put_blob(descriptor, chunks(count))
        pushed = time.perf_counter() - started
        print(f"push:   {count} MiB in {pushed:6.2f} s, peak RSS so far {peak_rss_mib():6.1f} MiB")
        started = time.perf_counter()
        received = 0
        smallest = CHUNK_SIZE * 64
        async for piece in store.open_blob(descriptor):
            received += len(piece)
            smallest = min(smallest, len(piece))
        streamed = time.perf_counter() - started
    assert received == descriptor.size
    print(f"stream: {received // CHUNK_SIZE} MiB in {streamed:6.2f} s "
          f"({received / CHUNK_SIZE / streamed:.0f} MiB/s), verified, smallest chunk "
          f"{smallest // 1024} KiB")


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    with tempfile.TemporaryDirectory(prefix="cachetui-bench-blob-") as tmp:
        running = start_registry(Path(tmp) / "registry")
        try:
            asyncio.run(run(running.host, count))
        finally:
            running.stop()
    peak = peak_rss_mib()
    print(f"peak RSS: {peak:.1f} MiB (goal < 150 MiB): {'met' if peak < 150 else 'NOT met'}")
    return 0 if peak < 150 else 1


if __name__ == "__main__":
    raise SystemExit(main())

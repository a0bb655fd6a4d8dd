"""Re-export benchmark: gzip -> zstd throughput against two ``zcat | zstd -3`` pipelines.

The baseline decompresses and recompresses the same layer blobs with the system tools, one
pipeline per core (two, each over half of the layers), output discarded. cachetui re-exports the
whole generated cache (``cachetui reexport SRC DST --compression zstd``) in a child process:
measured end to end (start-up, re-encode, write, fsync, re-read and verify) and for the pipeline
alone (in-process, verify off). Goal (issue 13): end to end >= 1.0x the baseline's throughput;
peak RSS < 200 MiB. Rounds alternate baseline and cachetui; medians are compared.

    .venv/bin/python bench/bench_reexport.py [TOTAL_MIB] [ROUNDS]
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.process import timed  # noqa: E402
from bench.rounds import alternate, load, verdict  # noqa: E402
from cachetui.demo.generator import CacheShape, write_cache  # noqa: E402
from cachetui.oci.mediatypes import Compression  # noqa: E402
from cachetui.ops.codecs import GZIP_BACKEND  # noqa: E402
from cachetui.ops.load import load_document  # noqa: E402
from cachetui.ops.reexport import ReexportSettings, apply_reexport, plan_reexport  # noqa: E402
from cachetui.store.layout import LayoutStore  # noqa: E402


async def layer_files(cache: Path) -> list[tuple[Path, int]]:
    document = await load_document(LayoutStore(cache), "latest")
    unique = {d.digest: d.size for d in document.layers}
    return [(cache / "blobs" / "sha256" / digest[7:], size) for digest, size in unique.items()]


CPU: dict[str, list[float]] = {"base": [], "ours": []}
"""CPU seconds (user + system) per run: a figure the machine's load does not inflate."""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def baseline(files: list[tuple[Path, int]]) -> float:
    halves: list[list[Path]] = [[], []]
    loads = [0, 0]
    for path, size in sorted(files, key=lambda item: -item[1]):
        side = loads.index(min(loads))
        halves[side].append(path)
        loads[side] += size
    scripts = [" ; ".join(f"zcat {p} | zstd -3 -q -c > /dev/null" for p in half) or "true"
               for half in halves]
    started, cpu = time.perf_counter(), children_cpu()
    processes = [subprocess.Popen(["sh", "-c", script]) for script in scripts]
    for process in processes:
        if process.wait() != 0:
            raise SystemExit("baseline pipeline failed")
    CPU["base"].append(children_cpu() - cpu)
    return time.perf_counter() - started


async def pipeline_only(cache: Path, out: Path) -> float:
    source, destination = LayoutStore(cache), LayoutStore(out, create=True)
    plan = await plan_reexport(source, "latest", destination, "z",
                               ReexportSettings(compression=Compression.ZSTD))
    started = time.perf_counter()
    await apply_reexport(plan, source, destination, verify=False)
    return time.perf_counter() - started


def main() -> None:
    total_mib = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory(prefix="bench-reexport-") as tmp:
        work = Path(tmp)
        write_cache(work / "cache", "latest", CacheShape(
            layer_bytes=max(1, total_mib // 9) * 1024 * 1024, stages=3, compressibility=0.5))
        files = asyncio.run(layer_files(work / "cache"))
        size = sum(s for _, s in files)
        mb = size / 1e6
        print(f"cache: {len(files)} gzip layers, {mb:.0f} MB compressed, {os.cpu_count()} cores; "
              f"gzip inflated with {GZIP_BACKEND}")
        peaks: list[float] = []
        counter = iter(range(10**6))

        def ours() -> float:
            out = work / f"out{next(counter)}"
            cpu = children_cpu()
            elapsed, rss = timed([sys.executable, "-m", "cachetui", "reexport",
                                  str(work / "cache"), f"{out}:z", "--compression", "zstd"])
            CPU["ours"].append(children_cpu() - cpu)
            shutil.rmtree(out, ignore_errors=True)
            peaks.append(rss)
            return elapsed

        def alone() -> float:
            out = work / f"out{next(counter)}"
            elapsed = asyncio.run(pipeline_only(work / "cache", out))
            shutil.rmtree(out, ignore_errors=True)
            return elapsed

        medians = alternate(rounds, {"base": lambda: baseline(files), "ours": ours,
                                     "alone": alone})
        base, mine, only = medians["base"], medians["ours"], medians["alone"]
        rss = max(peaks)
        print(f"median of {rounds} alternating rounds; {load()}")
        print(f"2 x (zcat | zstd -3):         {base:6.2f} s  {mb / base:6.1f} MB/s in")
        print(f"cachetui reexport (CLI):      {mine:6.2f} s  {mb / mine:6.1f} MB/s in  "
              f"{base / mine:5.2f}x baseline, peak RSS {rss:.0f} MiB")
        print(f"cachetui pipeline, no verify: {only:6.2f} s  {mb / only:6.1f} MB/s in  "
              f"{base / only:5.2f}x baseline")
        base_cpu, our_cpu = statistics.median(CPU["base"]), statistics.median(CPU["ours"])
        print(f"CPU seconds (user + system, load-independent): baseline {base_cpu:.2f}, "
              f"cachetui end to end {our_cpu:.2f} (baseline / cachetui {base_cpu / our_cpu:.2f})")
        print(f"goal end to end >= 1.00x baseline: {verdict(base / mine >= 1.0)} "
              f"({base / mine:.2f}x); goal peak RSS < 200 MiB: {verdict(rss < 200)} ({rss:.0f} MiB)")


if __name__ == "__main__":
    main()

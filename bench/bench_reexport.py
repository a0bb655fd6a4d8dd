"""Re-export benchmark: gzip -> zstd throughput against two ``zcat | zstd -3`` pipelines.

The baseline decompresses and recompresses the same layer blobs with the system tools, one
pipeline per core (two, each over half of the layers), output discarded. cachetui re-exports the
whole generated cache (``cachetui reexport SRC DST --compression zstd``) in a child process:
measured end to end (start-up, re-encode, write, fsync, re-read and verify) and for the pipeline
alone (in-process, verify off). Goal (issue 13): end to end >= 1.0x the baseline's throughput;
peak RSS < 200 MiB. Rounds alternate baseline and cachetui; medians are compared. Then the CPU
of each step cachetui takes (measured alone), its start-up and plan, and the lower bound both
contenders have on this many cores: what limits the ratio, in seconds.

    .venv/bin/python bench/bench_reexport.py [TOTAL_MIB] [ROUNDS]
"""

from __future__ import annotations

import asyncio
import hashlib
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
from cachetui.ops.codecs import (  # noqa: E402
    GZIP_BACKEND,
    IterReader,
    RoundTrip,
    encoder_for,
    fixed_blocks,
    plain_stream,
)
from cachetui.ops.load import load_document  # noqa: E402
from cachetui.ops.reexport import ReexportSettings, apply_reexport, plan_reexport  # noqa: E402
from cachetui.store.base import CHUNK_SIZE  # noqa: E402
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


STAGES = ("read + sha256 of the source (verify)", "gzip inflate (isa-l)",
          "sha256 of the plain bytes (diffID)", "zstd -3 encode",
          "round trip (decode the output, compare)", "sha256 of the output (blob digest)")


class Stopwatch:
    """CPU seconds of this thread (its CPU clock) charged to the step that just ran."""

    def __init__(self) -> None:
        self.spent = dict.fromkeys(STAGES, 0.0)
        self._last = time.thread_time()

    def charge(self, index: int) -> None:
        now = time.thread_time()
        self.spent[STAGES[index]] += now - self._last
        self._last = now


def one_layer(path: Path, watch: Stopwatch) -> None:
    source, diff_id, blob = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
    encoder, check = encoder_for(Compression.ZSTD, 3), RoundTrip(Compression.ZSTD)
    with open(path, "rb") as handle:
        def read() -> bytes:
            watch.charge(1)  # the inflater asks for input: what it spent so far
            piece = handle.read(CHUNK_SIZE)
            source.update(piece)
            watch.charge(0)
            return piece

        blocks = fixed_blocks(plain_stream(IterReader(iter(read, b"")), Compression.GZIP))
        watch.charge(5)
        for block in blocks:
            watch.charge(1)
            diff_id.update(block)
            watch.charge(2)
            data = encoder.compress(block)
            watch.charge(3)
            check.plain(block)
            check.encoded(data)
            watch.charge(4)
            blob.update(data)
            watch.charge(5)
        watch.charge(1)
        data = encoder.flush()
        watch.charge(3)
        check.encoded(data)
        check.finish()
        watch.charge(4)
        blob.update(data)
        watch.charge(5)


def stage_cpu(files: list[tuple[Path, int]]) -> dict[str, float]:
    """CPU seconds of each step cachetui takes, layer after layer on one thread, streamed in
    1 MiB pieces as the pipeline cuts them: what the work costs, whatever the load."""
    watch = Stopwatch()
    for path, _ in files:
        one_layer(path, watch)
    return watch.spent


def startup_seconds(cache: Path, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ``cachetui reexport --dry-run``: interpreter, imports and the plan
    (the cache read, the destination looked at), paid serially before any layer is encoded.
    (``--version`` imports no command; ``reexport --help`` imports the command but plans
    nothing.)"""
    cpu = children_cpu()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cachetui", "reexport", str(cache), f"{out}:z",
                    "--compression", "zstd", "--dry-run"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, children_cpu() - cpu


def zcat_cpu(files: list[tuple[Path, int]]) -> float:
    """CPU seconds of zcat alone over every layer (the baseline's decode half)."""
    cpu = children_cpu()
    for path, _ in files:
        subprocess.run(f"zcat {path} > /dev/null", shell=True, check=True)
    return children_cpu() - cpu


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
        stages = stage_cpu(files)
        starts = [startup_seconds(work / "cache", work / "dry") for _ in range(rounds)]
        start_wall = statistics.median(w for w, _ in starts)
        start_cpu = statistics.median(c for _, c in starts)
        decode = zcat_cpu(files)
        cores = os.cpu_count() or 1
        print("where cachetui's CPU goes (one thread, each step alone, seconds): " + "; ".join(
            f"{name} {seconds:.2f}" for name, seconds in stages.items())
            + f"; sum {sum(stages.values()):.2f}")
        print(f"start-up + plan (reexport --dry-run, serial): {start_wall:.2f} s wall, "
              f"{start_cpu:.2f} CPU s; baseline CPU split: zcat {decode:.2f}, "
              f"zstd -3 {base_cpu - decode:.2f}")
        floor_ours = start_cpu + max(0.0, our_cpu - start_cpu) / cores  # CPU: load-independent
        floor_base = base_cpu / cores
        print(f"lower bounds on {cores} idle cores (start-up + plan CPU, serial, + the rest of the CPU "
              f"spread evenly): cachetui {floor_ours:.2f} s, baseline {floor_base:.2f} s: the "
              f"best ratio the CPU work allows is {floor_base / floor_ours:.2f}x "
              f"(measured {base / mine:.2f}x)")
        checks = sum(v for k, v in stages.items() if "sha256" in k or "round trip" in k)
        print(f"what stops it: the baseline checks nothing; cachetui's checks (source digest, "
              f"diffID, blob digest, round trip) cost {checks:.2f} CPU s and its start-up + plan "
              f"{start_cpu:.2f}; its codec work alone ({sum(stages.values()) - checks:.2f} CPU s) "
              f"is {(base_cpu) / (sum(stages.values()) - checks):.1f}x cheaper than the "
              f"baseline's ({base_cpu:.2f})")
        print(f"goal end to end >= 1.00x baseline: {verdict(base / mine >= 1.0)} "
              f"({base / mine:.2f}x); goal peak RSS < 200 MiB: {verdict(rss < 200)} ({rss:.0f} MiB)")


if __name__ == "__main__":
    main()

"""Start-up benchmark: what a ``cachetui`` command costs before it does its work.

Every command is a fresh process, so its interpreter start and imports are paid once per run:
~0.1 s is a tenth of a 300-cache registry listing. Times, in alternating rounds (medians), wall
and CPU seconds (user + system, load-independent) of:

- ``python -c pass`` (the interpreter) and ``python -c "import asyncio, argparse, msgspec"``
  (the libraries every command needs: the floor of a cachetui start);
- ``cachetui --version``; ``ls --json`` of an empty directory and of a one-cache directory;
  ``copy --dry-run`` and ``reexport --dry-run --compression zstd`` of that cache.

- ``ls --json --no-cache HOST/ABSENT``: a registry listing's start-up (the HTTP stack's imports
  and one request, answered 404 by a loopback ``docker-registry``), while the registry idles:
  all of it comes before a listing's first request;

Then, for ``ls --json DIR``, which network and UI libraries were loaded (none should be: a
directory listing needs no HTTP stack and no Textual; nor should ``HOST/ABSENT``: its reads and
its error answer go through libcurl, and httpx loads on first use) and the top offenders of
``python -X importtime``, by package, for anyone chasing the next millisecond (for the
registry ``ls`` too).

With ``--against REF`` (a git ref), the two ``ls`` rows also run on that ref's ``cachetui`` in
the same rounds: before and after figures of one run.

Goals (issue 13): ``ls`` of a directory loads neither httpx, aiohttp nor Textual; its start-up
CPU is within 2x the library floor above.

    .venv/bin/python bench/bench_startup.py [ROUNDS] [--against REF]
"""

from __future__ import annotations

import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.against import split_against, unpack  # noqa: E402
from bench.rounds import load, verdict  # noqa: E402
from cachetui.demo.generator import CacheShape, write_cache  # noqa: E402
from tests.registry_procs import start_registry  # noqa: E402

PYTHON = sys.executable
CACHETUI = [PYTHON, "-m", "cachetui"]
HEAVY = ("httpx", "aiohttp", "textual", "rich", "botocore", "azure")
"""Libraries a directory listing must not load (each costs tens of milliseconds)."""
LIBRARY_FLOOR = "import asyncio, argparse, msgspec"

MODULES_PROBE = """
import json, sys
from cachetui import entry
try:
    entry.main(sys.argv[1:])
finally:
    print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def run(command: list[str], expect: tuple[int, ...] = (0,),
        cwd: Path = REPO_ROOT) -> tuple[float, float]:
    """Wall and CPU seconds of one child process (its exit status must be one of ``expect``);
    ``python -m cachetui`` runs the ``cachetui`` of ``cwd``."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               cwd=cwd)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) not in expect:
        raise SystemExit(f"{command[2:]} failed ({status}): {stderr}")
    return elapsed, usage.ru_utime + usage.ru_stime


def loaded(args: list[str]) -> list[str]:
    """The modules ``cachetui ARGS`` had imported when it finished."""
    done = subprocess.run([PYTHON, "-c", MODULES_PROBE, *args], capture_output=True, text=True,
                          cwd=REPO_ROOT)
    return list(json.loads(done.stderr.strip().splitlines()[-1]))


def import_offenders(args: list[str], runs: int, top: int = 12) -> list[tuple[str, int]]:
    """Self import time (µs) summed by package (``cachetui.*`` by subpackage), largest first;
    each module's least time over ``runs`` runs (a busy machine only ever adds time)."""
    least: dict[str, int] = {}
    for _ in range(runs):
        done = subprocess.run([PYTHON, "-X", "importtime", "-m", "cachetui", *args],
                              capture_output=True, text=True, cwd=REPO_ROOT)
        for line in done.stderr.splitlines():
            if not line.startswith("import time:") or "|" not in line:
                continue
            self_us, _, name = line[len("import time:"):].split("|")
            if self_us.strip().isdigit():  # not the header line
                least[name.strip()] = min(least.get(name.strip(), 10**9), int(self_us))
    spent: collections.Counter[str] = collections.Counter()
    for name, us in least.items():
        parts = name.split(".")
        spent[".".join(parts[:2]) if parts[0] == "cachetui" else parts[0]] += us
    return spent.most_common(top)


def main(argv: list[str]) -> int:
    argv, against = split_against(argv)
    rounds = int(argv[0]) if argv else 11
    with tempfile.TemporaryDirectory(prefix="cachetui-bench-startup-") as tmp:
        work = Path(tmp)
        registry = start_registry(work / "registry")
        try:
            return measure(work, rounds, registry.host, against)
        finally:
            registry.stop()


def measure(work: Path, rounds: int, host: str, against: str | None) -> int:
    empty = work / "empty"
    empty.mkdir()
    cache = work / "cache"
    write_cache(cache, "latest", CacheShape(layer_bytes=4096))
    # An installed cachetui has bytecode: compile once, as an install would.
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(REPO_ROOT / "cachetui")],
                   check=True)
    outputs = iter(range(10**6))
    absent = ["ls", "--json", "--no-cache", f"{host}/bench/absent"]
    contenders: dict[str, tuple[list[str], tuple[int, ...]]] = {
        "python -c pass": ([PYTHON, "-c", "pass"], (0,)),
        f"python -c '{LIBRARY_FLOOR}'": ([PYTHON, "-c", LIBRARY_FLOOR], (0,)),
        "cachetui --version": ([*CACHETUI, "--version"], (0,)),
        "cachetui ls --json EMPTY": ([*CACHETUI, "ls", "--json", str(empty)], (1,)),
        "cachetui ls --json DIR": ([*CACHETUI, "ls", "--json", str(cache)], (0,)),
        "cachetui copy --dry-run DIR OUT": ([*CACHETUI, "copy", "--dry-run", str(cache)], (0,)),
        "cachetui reexport --dry-run DIR OUT": (
            [*CACHETUI, "reexport", "--dry-run", str(cache)], (0,)),
        "cachetui ls --json HOST/ABSENT": ([*CACHETUI, *absent], (1,)),
    }
    trees = {"": REPO_ROOT}
    if against is not None:
        old = unpack(against, work / "old")
        subprocess.run([PYTHON, "-m", "compileall", "-q", str(old / "cachetui")], check=True)
        trees[f"{against}: "] = old
        for name in ("cachetui ls --json DIR", "cachetui ls --json HOST/ABSENT"):
            contenders[f"{against}: {name}"] = contenders[name]
    walls: dict[str, list[float]] = {name: [] for name in contenders}
    cpus: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, (command, expect) in contenders.items():
            if "OUT" in name:
                command = [*command, str(work / f"out{next(outputs)}")]
                if "reexport" in name:
                    command += ["--compression", "zstd"]
            tree = next((path for prefix, path in trees.items()
                         if prefix and name.startswith(prefix)), REPO_ROOT)
            wall, cpu = run(command, expect, tree)
            walls[name].append(wall)
            cpus[name].append(cpu)
    print(f"median of {rounds} alternating rounds; {load()}")
    print(f"{'':46s} {'wall s':>7s} {'CPU s':>7s}")
    median_cpu = {name: statistics.median(values) for name, values in cpus.items()}
    for name in contenders:
        print(f"{name:46s} {statistics.median(walls[name]):7.3f} {median_cpu[name]:7.3f}")
    modules = loaded(["ls", "--json", str(cache)])
    heavy = sorted(set(modules) & set(HEAVY))  # (httpx._main is cachetui's stand-in)
    print(f"ls --json DIR loaded {len(modules)} modules; network/UI libraries among them: "
          f"{', '.join(heavy) or 'none'}")
    registry_heavy = sorted(set(loaded(absent)) & set(HEAVY))
    print(f"ls --json HOST/ABSENT: network/UI libraries loaded: "
          f"{', '.join(registry_heavy) or 'none'} (its reads go through libcurl; httpx loads "
          f"on first use)")
    print("top import offenders of ls --json DIR (python -X importtime, self time by "
          "package, ms): " + ", ".join(
              f"{name} {us / 1000:.1f}" for name, us in import_offenders(
                  ["ls", "--json", str(cache)], runs=min(rounds, 5))))
    print("top import offenders of ls --json HOST/ABSENT: " + ", ".join(
        f"{name} {us / 1000:.1f}" for name, us in import_offenders(
            absent, runs=min(rounds, 5))))
    if against is not None:
        for name in ("cachetui ls --json DIR", "cachetui ls --json HOST/ABSENT"):
            old_cpu, new_cpu = median_cpu[f"{against}: {name}"], median_cpu[name]
            print(f"{name[9:]}: CPU {old_cpu:.3f} s on {against}, {new_cpu:.3f} s now "
                  f"(saved {old_cpu - new_cpu:+.3f} s; {new_cpu / old_cpu:.2f}x); wall "
                  f"{statistics.median(walls[f'{against}: {name}']):.3f} -> "
                  f"{statistics.median(walls[name]):.3f} s")
    floor = median_cpu[f"python -c '{LIBRARY_FLOOR}'"]
    ls_cpu = median_cpu["cachetui ls --json DIR"]
    print(f"goal ls of a directory loads no {'/'.join(HEAVY)}: {verdict(not heavy)}; "
          f"goal ls start-up CPU <= 2x the library floor ({floor:.3f} s): "
          f"{verdict(ls_cpu <= 2 * floor)} ({ls_cpu / floor:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

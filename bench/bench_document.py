"""CPU per cache of what a listing does with each fetched cache: parse the manifest, parse and
validate the cache config, classify (``build_document``) and analyse (``analyse``).

The caches are those ``bench_inventory`` lists: 300 distinct caches made from 30 generated bases
(three forms, min and max, ``extra_records=50``), each config with its own record key. Every
document is built from fresh bytes (no memo), as a cold ``ls`` does, and a pass keeps its 300
analyses alive, as a listing's memo does (the garbage collector's passes cost more with more live
objects), with the collector paced as the ``cachetui`` program paces it (``startup.pace_gc``).
Prints CPU ms per cache, split into manifest parse, document build and analysis (the best of
ROUNDS passes over the 300, in each of several child processes), and how many objects the
garbage collector tracks per cache a listing keeps (each full collection walks them all).

With ``--against REF`` (a git ref, e.g. ``main``), the same caches are also timed with the
``cachetui`` package of REF, in child processes alternating with the current tree's, and the
ratio is printed: a before/after in one run, on a shared machine. Goal (issue 13): against
``edf21e8`` (the code before the listing's parse work), build_document + analyse take at most
half the CPU per cache.

    .venv/bin/python -m bench.bench_document [ROUNDS] [--against REF]
    .venv/bin/python -m bench.bench_document 7 --against edf21e8      # the goal
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.against import split_against, unpack
from bench.rounds import load, verdict

REPO_ROOT = Path(__file__).resolve().parent.parent
BASELINE = "edf21e8"
"""The commit before issue 13's parse and analysis work (what the goal is measured against)."""
GOAL_RATIO = 2.0
PHASES = ("parse_top", "build_document", "analyse")
CHILDREN = 4
"""Child processes per contender, alternating (the best pass of all of them is kept)."""


def make_pairs(path: Path) -> int:
    """Write the 300 (manifest, media type, config) triples to ``path``; their count."""
    from bench.bench_inventory import CACHES, write_bases
    from bench.fill import variants

    with tempfile.TemporaryDirectory() as tmp:
        bases = write_bases(Path(tmp) / "layout")
        items = asyncio.run(variants(Path(tmp) / "layout", bases, CACHES, "document"))
    pairs = [(bytes(item.top.raw), item.top.media_type, item.config_raw) for item in items]
    path.write_bytes(pickle.dumps(pairs))
    return len(pairs)


def child(path: Path, rounds: int) -> None:
    """Time ``rounds`` passes with whichever ``cachetui`` is first on the path; print JSON."""
    import gc

    from cachetui import startup
    from cachetui.buildkit.analysis import analyse
    from cachetui.buildkit.document import build_document
    from cachetui.oci.models import parse_top

    pairs: list[tuple[bytes, str, bytes]] = pickle.loads(path.read_bytes())
    startup.pace_gc()
    gc.collect()
    tracked_before = len(gc.get_objects())
    kept_once = [analyse(build_document(parse_top(bytes(raw), media_type=media_type),
                                        bytes(config_raw))) for raw, media_type, config_raw in pairs]
    gc.collect()
    tracked = (len(gc.get_objects()) - tracked_before) / len(kept_once)
    del kept_once
    best = dict.fromkeys(PHASES, float("inf"))
    summary = ""
    for _ in range(rounds):
        spent = dict.fromkeys(PHASES, 0.0)
        kept = []
        for raw, media_type, config_raw in pairs:
            t0 = time.process_time()
            top = parse_top(raw, media_type=media_type)
            t1 = time.process_time()
            document = build_document(top, config_raw)
            t2 = time.process_time()
            analysis = analyse(document)
            t3 = time.process_time()
            kept.append(analysis)
            spent["parse_top"] += t1 - t0
            spent["build_document"] += t2 - t1
            spent["analyse"] += t3 - t2
        for name, value in spent.items():
            best[name] = min(best[name], value)
        summary = (f"{len(kept)} caches, last {analysis.record_count} records, "
                   f"{analysis.layer_count} layers, min {analysis.minmax.min_bytes} "
                   f"max {analysis.minmax.max_bytes}")
    print(json.dumps({"best": {**best, "tracked": tracked}, "summary": summary}))


CHILD = ("import sys; sys.path[:0] = sys.argv[1:3]; from bench.bench_document import child; "
         "import cachetui; assert cachetui.__file__.startswith(sys.argv[1]), cachetui.__file__; "
         "child(__import__('pathlib').Path(sys.argv[3]), int(sys.argv[4]))")
"""A child process: ``cachetui`` from the tree timed (first on the path), ``bench`` from here."""


def run_child(path: Path, rounds: int, tree: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(REPO_ROOT), str(path), str(rounds)],
        capture_output=True, check=True, cwd=path.parent, text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    result = json.loads(done.stdout)
    best: dict[str, float] = result["best"]
    return best


def report(name: str, best: dict[str, float], count: int) -> float:
    print(f"{name}:")
    total = 0.0
    for phase in PHASES:
        total += best[phase]
        print(f"  {phase:15s} {best[phase] * 1000 / count:7.3f} ms per cache "
              f"({best[phase] * 1000:6.1f} ms for {count})")
    print(f"  {'total':15s} {total * 1000 / count:7.3f} ms per cache ({total * 1000:6.1f} ms "
          f"for {count})")
    print(f"  objects the garbage collector tracks per cache kept: {best['tracked']:.1f}")
    return total


def main(argv: list[str]) -> int:
    argv, against = split_against(argv)
    rounds = int(argv[0]) if argv else 7
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        count = make_pairs(work / "pairs.pickle")
        trees = {"current tree": REPO_ROOT}
        if against is not None:
            trees = {against: unpack(against, work / "old"), **trees}
        best = {name: dict.fromkeys((*PHASES, "tracked"), float("inf")) for name in trees}
        for _ in range(CHILDREN):
            for name, tree in trees.items():
                for phase, value in run_child(work / "pairs.pickle", rounds, tree).items():
                    best[name][phase] = min(best[name][phase], value)
    print(f"{count} distinct caches (bench_inventory's: 30 bases, extra_records=50); CPU "
          f"(process_time), best pass of {CHILDREN} processes x {rounds} passes; {load()}")
    totals = {name: report(name, values, count) for name, values in best.items()}
    if against is not None:
        old_total, new_total = totals[against], totals["current tree"]
        old_doc = best[against]["build_document"] + best[against]["analyse"]
        new_doc = best["current tree"]["build_document"] + best["current tree"]["analyse"]
        print(f"build_document + analyse: {old_doc * 1000 / count:.3f} -> "
              f"{new_doc * 1000 / count:.3f} ms per cache ({old_doc / new_doc:.2f}x less CPU); "
              f"all three: {old_total / new_total:.2f}x")
        if against == BASELINE:
            met = old_doc / new_doc >= GOAL_RATIO
            print(f"goal build_document + analyse at most 1/{GOAL_RATIO:g} of {against}'s CPU: "
                  f"{verdict(met)} ({old_doc / new_doc:.2f}x less)")
            return 0 if met else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

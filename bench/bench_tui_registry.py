"""bench_scale's TUI phase alone, repeated, optionally against another commit in the same run.

Fills a loopback registry with bench_scale's 3,000 distinct caches over 30 repositories once, then
opens the TUI on ``HOST`` headless in a child process per round (cold on-disk cache) and prints,
per contender, the median and worst of: the event-loop stall while the rows fill (wall), the
longest loop step and the most main-thread CPU between two 20 ms ticks (what load does not
inflate: on a shared machine the wall stall is mostly time spent waiting for a core), how long
run_test took to hand the app over (the start-up, before the stall timer exists), the process
CPU and the rows per second. ``--against REF`` runs that commit's ``cachetui`` (this
bench's code) in alternating rounds.

    .venv/bin/python bench/bench_tui_registry.py [ROUNDS] [--against REF]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.against import split_against, unpack  # noqa: E402
from bench.bench_scale import fill  # noqa: E402
from bench.rounds import load, verdict  # noqa: E402
from tests.registry_procs import start_registry  # noqa: E402

GOAL = 0.1
CHILD = r"""
import asyncio, json, resource, sys
sys.path.insert(0, sys.argv[2])
import cachetui
assert cachetui.__file__.startswith(sys.argv[2]), cachetui.__file__
sys.path.insert(1, sys.argv[3])
from bench.bench_scale import tui_stall
measured = asyncio.run(tui_stall(sys.argv[1]))
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({**measured._asdict(), "cpu": usage.ru_utime + usage.ru_stime}))
"""


def one_round(host: str, tree: Path, work: Path, round_: int) -> dict[str, float]:
    env = {**os.environ, "CACHETUI_CACHE_DIR": str(work / f"cache-{round_}-{tree.name}"),
           "CACHETUI_CONFIG": str(work / "no-config.toml")}
    done = subprocess.run([sys.executable, "-c", CHILD, host, str(tree), str(REPO_ROOT)],
                          capture_output=True, text=True, env=env, cwd=work, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the TUI round failed: {done.stderr[-2000:]}")
    out: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return out


def main(argv: list[str]) -> int:
    argv, against = split_against(argv)
    rounds = int(argv[1]) if len(argv) > 1 else 3
    with tempfile.TemporaryDirectory(prefix="cachetui-tui-registry-") as tmp:
        work = Path(tmp)
        trees = {"now": REPO_ROOT}
        if against is not None:
            trees = {against: unpack(against, work / "against"), "now": REPO_ROOT}
        running = start_registry(work / "registry")
        try:
            fill(work, running.host)
            results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
            for round_ in range(rounds):
                for name, tree in trees.items():
                    results[name].append(one_round(running.host, tree, work, round_))
        finally:
            running.stop()
    print(f"TUI on HOST, 3,000 rows from 30 repositories, {rounds} alternating rounds "
          f"(median / worst); {load()}")
    for name, runs in results.items():
        def figure(key: str, runs: list[dict[str, float]] = runs) -> str:
            values = [run[key] * 1000 for run in runs]
            return f"{statistics.median(values):5.0f} / {max(values):5.0f}"

        rate = statistics.median(run["rows"] / run["done"] for run in runs)
        print(f"{name:>10}: stall {figure('worst')} ms; longest step {figure('step_cpu')} ms CPU; "
              f"most CPU between ticks {figure('window_cpu')} ms; app handed over after "
              f"{figure('ready')} ms; process CPU "
              f"{statistics.median(run['cpu'] for run in runs):.1f} s; {rate:.0f} rows/s; rows "
              f"{min(int(run['rows']) for run in runs)}")
    stall = statistics.median(run["worst"] for run in results["now"])
    print(f"goal TUI stall < {GOAL * 1000:.0f} ms: {verdict(stall < GOAL)} ({stall * 1000:.0f} ms, "
          f"median)")
    return 0 if stall < GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

"""Inventory benchmark: ``cachetui ls --json`` of 300 cache tags versus skopeo, same run.

Fills a loopback ``docker-registry`` with 300 tags over 30 distinct cache manifests (made by
``cachetui.demo.generator``), then times ``cachetui ls --json HOST/REPO`` (a subprocess, cold start
included) against ``skopeo list-tags`` plus ``skopeo inspect --raw`` of every tag. Goal: cachetui at
least 10 times faster, and under 2 s. Three rounds, alternating; medians compared.

    .venv/bin/python bench/bench_inventory.py
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.fill import fill_registry  # noqa: E402
from cachetui.demo.generator import CacheShape, write_cache  # noqa: E402
from tests.registry_procs import start_registry  # noqa: E402

DISTINCT = 30
COPIES = 10
REPO = "bench/app"
FORMS = ("image-manifest", "index", "docker-list")
ROUNDS = 3


async def fill(host: str, layout: Path) -> None:
    await fill_registry(host, REPO, layout, distinct=DISTINCT, copies=COPIES)


def time_cachetui(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=True, cwd=REPO_ROOT)
    elapsed = time.perf_counter() - started
    rows = json.loads(done.stdout)
    assert len(rows) == DISTINCT * COPIES, len(rows)
    assert len({row["digest"] for row in rows}) == DISTINCT
    return elapsed


def time_skopeo(skopeo: str, target: str) -> float:
    started = time.perf_counter()
    listed = subprocess.run([skopeo, "list-tags", "--tls-verify=false", f"docker://{target}"],
                            capture_output=True, check=True)
    tags = json.loads(listed.stdout)["Tags"]
    for tag in tags:
        subprocess.run([skopeo, "inspect", "--raw", "--tls-verify=false",
                        f"docker://{target}:{tag}"], capture_output=True, check=True)
    assert len(tags) == DISTINCT * COPIES
    return time.perf_counter() - started


def main() -> int:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        print("skopeo not found (apt-get install skopeo)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="cachetui-bench-") as tmp:
        layout = Path(tmp) / "layout"
        for i in range(DISTINCT):
            write_cache(layout, f"m{i:02d}", CacheShape(
                form=FORMS[i % 3], mode="max" if i % 2 else "min", seed=i, variant=i,  # type: ignore[arg-type]
                layer_bytes=8 * 1024, extra_records=50))
        running = start_registry(Path(tmp) / "registry")
        try:
            asyncio.run(fill(running.host, layout))
            target = f"{running.host}/{REPO}"
            cachetui = [sys.executable, "-m", "cachetui", "ls", "--json", target]
            # An installed cachetui has bytecode; a checkout run with PYTHONDONTWRITEBYTECODE
            # would recompile every module on each start, which is not what users run.
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO_ROOT / "cachetui")],
                           check=True)
            subprocess.run(cachetui, capture_output=True, check=True, cwd=REPO_ROOT)  # warm caches
            ours_runs: list[float] = []
            theirs_runs: list[float] = []
            for _ in range(ROUNDS):  # alternating, so a slow spell of the machine hits both
                ours_runs.append(time_cachetui(cachetui))
                theirs_runs.append(time_skopeo(skopeo, target))
        finally:
            running.stop()
    ours, theirs = statistics.median(ours_runs), statistics.median(theirs_runs)
    ratio = theirs / ours
    print(f"tags: {DISTINCT * COPIES} ({DISTINCT} distinct manifests)")
    print(f"cachetui ls --json:                   median {ours:5.2f} s (classified and analysed; "
          f"runs {' '.join(f'{t:.2f}' for t in ours_runs)})")
    print(f"skopeo list-tags + inspect --raw x{DISTINCT * COPIES}: median {theirs:5.2f} s (raw manifests "
          f"only; runs {' '.join(f'{t:.2f}' for t in theirs_runs)})")
    print(f"ratio: cachetui is {ratio:.1f}x faster")
    ok = ratio >= 10 and ours < 2.0
    print("goal (>= 10x and < 2 s):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

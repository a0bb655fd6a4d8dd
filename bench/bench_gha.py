"""gha inventory benchmark: list a repository with 2,000 cache entries over REST (pages of 100)
and group them into caches, against the emulator in its own process.

Peer/floor measured in the same run: fetching the same 20 pages one after another (what
BuildKit's own REST client does), without grouping. Run with a simulated round trip to show
what the concurrent page fetches buy on a real network.

    .venv/bin/python bench/bench_gha.py [ENTRIES] [LATENCY_MS ...]
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402

from cachetui.store.gha.credentials import Secret  # noqa: E402
from cachetui.store.gha.inventory import group  # noqa: E402
from cachetui.store.gha.rest import PER_PAGE, GitHubRest  # noqa: E402
from tests.gha_emulator.fixture import REPOSITORY, REST_TOKEN  # noqa: E402

ROUNDS = 3


async def cachetui_inventory(url: str) -> tuple[float, int, int]:
    rest = GitHubRest(url, REPOSITORY, Secret(REST_TOKEN, "bench"))
    try:
        started = time.perf_counter()
        entries = await rest.list_entries()
        inventory = group(REPOSITORY, entries)
        elapsed = time.perf_counter() - started
    finally:
        await rest.aclose()
    return elapsed, len(inventory.entries), rest.requests


async def sequential_pages(url: str) -> tuple[float, int]:
    headers = {"Authorization": f"Bearer {REST_TOKEN}", "Accept": "application/vnd.github+json"}
    async with httpx.AsyncClient(timeout=60) as client:
        started = time.perf_counter()
        page, seen, total = 1, 0, 1
        while seen < total:
            answer = await client.get(f"{url}/repos/{REPOSITORY}/actions/caches",
                                      params={"per_page": PER_PAGE, "page": page},
                                      headers=headers)
            body = answer.json()
            total = body["total_count"]
            seen += len(body["actions_caches"])
            page += 1
        return time.perf_counter() - started, seen


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    latencies = [float(x) for x in sys.argv[2:]] or [0.0, 50.0]
    for latency in latencies:
        server = subprocess.Popen([sys.executable, "-m", "tests.gha_emulator", str(count),
                                   str(latency)], cwd=REPO_ROOT, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            ours, floor = [], []
            for _ in range(ROUNDS):
                elapsed, listed, requests = asyncio.run(cachetui_inventory(url))
                assert listed == count, (listed, count)
                ours.append(elapsed)
                base, seen = asyncio.run(sequential_pages(url))
                assert seen == count
                floor.append(base)
            a, b = statistics.median(ours), statistics.median(floor)
            print(f"{count} entries, {requests} requests, {latency:g} ms per round trip: "
                  f"cachetui inventory {a * 1000:7.1f} ms (median of {ROUNDS}); "
                  f"sequential pages {b * 1000:7.1f} ms; ratio {a / b:4.2f}")
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()

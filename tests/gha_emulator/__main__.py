"""Run the emulator in its own process (benchmarks): ``python -m tests.gha_emulator ENTRIES
LATENCY_MS``. Prints the base URL, then serves until stdin closes."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from tests.gha_emulator.emulator import GitHubEmulator
from tests.gha_emulator.fixture import REPOSITORY, REST_TOKEN
from tests.gha_emulator.state import CACHE_VERSION


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    latency = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0
    emulator = GitHubEmulator().start()
    emulator.add_rest_token(REST_TOKEN, ("repo",), limit=1_000_000)
    emulator.set_latency(latency)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    refs = [f"refs/pull/{n}/merge" for n in range(1, 40)] + ["refs/heads/main"]
    for i in range(count):
        ref = refs[i % len(refs)]
        key = (f"index-buildkit-1-{i % 97:08x}#{i // 97 + 1}" if i % 10 == 0
               else f"buildkit-blob-1-sha256:{i:064x}")
        emulator.add_entry(REPOSITORY, key, CACHE_VERSION, ref, b"",
                           created_at=start + timedelta(seconds=i))
    for entry in emulator.repository(REPOSITORY).entries:
        entry.size = 1000 + entry.id  # listing sizes without holding the bytes
    print(emulator.url, flush=True)
    sys.stdin.read()
    emulator.stop()


if __name__ == "__main__":
    main()

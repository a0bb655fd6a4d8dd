"""Kill the CLI with SIGKILL at random points and check what it leaves behind.

After every kill: the source tree is byte-for-byte unchanged, and the destination is either as it
was or a valid cache (every tag loads, every blob it references exists and verifies); a re-run
then completes. Shared by the copy and re-export crash suites.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cachetui.errors import NotFound
from cachetui.ops.load import load_document
from cachetui.store.base import Store
from cachetui.store.layout import LayoutStore

RUNS = 30


def tree_hash(root: Path) -> str:
    """Names, modes and contents of every file under ``root``."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(oct(path.stat().st_mode).encode())
            with open(path, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
    return digest.hexdigest()


def cli(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "cachetui", *args]


def run_to_end(args: Sequence[str]) -> float:
    started = time.monotonic()
    done = subprocess.run(cli(args), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


def run_and_kill(args: Sequence[str], delay: float) -> int | None:
    """Start the CLI, SIGKILL it after ``delay`` seconds; the exit code if it ended before."""
    process = subprocess.Popen(cli(args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        return process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        return None
    finally:
        if process.stderr is not None:
            process.stderr.close()


def delays(full_run: float, seed: int) -> list[float]:
    """Kill points spread over the whole run (a few land before any write, a few after)."""
    rng = random.Random(seed)
    return [rng.uniform(0.2 * full_run, 0.85 * full_run) for _ in range(RUNS)]


async def check_store(store: Store, tags: Sequence[str]) -> dict[str, str]:
    """Each tag that exists loads and every blob it names verifies; returns tag → digest."""
    found: dict[str, str] = {}
    for tag in tags:
        try:
            document = await load_document(store, tag)
        except NotFound:
            continue
        for descriptor in document.top.children():
            async for _ in store.open_blob(descriptor):  # verified while streaming
                pass
        found[tag] = document.top.digest
    return found


def check_layout(root: Path) -> dict[str, str]:
    """A directory after a kill: index.json parses, every reachable blob exists and verifies."""
    store = LayoutStore(root)
    if not (root / "index.json").exists():
        return {}
    reach = store.reachability_sync()
    assert not reach.missing, f"missing blobs {sorted(reach.missing)[:3]}"
    assert not reach.problems, reach.problems
    return asyncio.run(check_store(store, [tag for tag, _ in store.tag_entries_sync()]))

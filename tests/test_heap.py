"""Re-export keeps freed codec buffers for reuse (issue 13 item 6): without it glibc hands each
freed 1 MiB buffer back to the kernel and the next one page-faults fresh pages in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cachetui.ops import heap

CHURN = """
import resource, sys
from cachetui.ops.heap import keep_freed_buffers
applied = keep_freed_buffers() if sys.argv[1] == "keep" else None
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):  # what re-encoding does: 1 MiB buffers made, used, freed, by the hundred
    held = [b"x" * (1 << 20) for _ in range(8)]
    del held
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", CHURN, mode], check=True, capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parent.parent).stdout.split()
    return out[0], int(out[1])


def test_freed_buffers_are_reused_instead_of_faulted_in_again() -> None:
    applied, kept = faults("keep")
    _, default = faults("default")
    assert applied == "True"
    # 50 rounds of 8 MiB: ~100,000 faults when each round maps fresh pages, ~2,000 kept
    assert kept * 10 < default, (kept, default)


def test_applied_once_per_process() -> None:
    first = heap.keep_freed_buffers()
    assert heap.keep_freed_buffers() is first

"""Run a server and its client on separate cores (shared by the benchmarks).

On this machine the registry and the client share 2 cores, so every CPU second the client spends
is taken from the registry. Pinning the registry to one core and the client to the other removes
that sharing: what a client still costs over the floor then is its own latency and serial
start-up, measured apart from the CPU it takes from a co-located server.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _pin(pid: int, cpus: set[int]) -> None:
    """Every thread of ``pid`` onto ``cpus`` (a Go server runs many; new ones inherit it)."""
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(task), cpus)
        except (ProcessLookupError, PermissionError):
            pass


def can_separate() -> bool:
    return hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


@contextmanager
def separate_cores(server_pid: int) -> Iterator[Callable[[], None]]:
    """The server on the first core; yields a ``preexec_fn`` that puts a child on the second.
    Every core is given back to the server afterwards."""
    cpus = sorted(os.sched_getaffinity(0))
    _pin(server_pid, {cpus[0]})

    def on_client_core() -> None:
        os.sched_setaffinity(0, {cpus[1]})
    try:
        yield on_client_core
    finally:
        _pin(server_pid, set(cpus))

"""Process-wide settings for the ``cachetui`` program (not for library use): fewer imports at
start-up, no garbage collection while modules load, and a garbage-collector pace that suits
listings of thousands of documents.

All are measured (``bench/bench_inventory.py``, ``bench/bench_scale.py``,
``bench/bench_startup.py``):

* httpx imports its own command-line client (``httpx._main``: rich, click, pygments) whenever
  those happen to be installed, as they are beside Textual: about 60 ms of CPU on every start,
  for a program cachetui never runs. A stand-in module takes its place before httpx loads.
* A listing keeps every parsed manifest and cache config alive (a million small objects for
  3,000 caches), and with CPython's default pace (a young collection every 700 allocations,
  each tenth promoting to older generations that are then rescanned) a quarter of a warm
  ``ls``'s CPU went to the collector finding nothing. Young collections every 20,000
  allocations keep cycles collected (memory stays bounded) at a fraction of the cost.
* A listing is freed object by object when its command returns (~5 ms for 300 caches, after
  the output, before the exit), work the operating system does at once when the process ends:
  the program keeps it until then (:func:`keep_until_exit`).
* Loading modules makes tens of thousands of objects that live as long as the process
  (functions, classes, their dicts): collections among them find nothing, ~9 ms of a registry
  ``ls``'s start-up. The program collects nothing until its command's modules are loaded
  (:func:`pause_gc`, :func:`resume_gc`; :func:`loading` for modules a command loads later, as
  the registry stack), then freezes what they made out of every later collection.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import types
from collections.abc import Iterator
from typing import Final, NoReturn

GC_THRESHOLD: Final = (20_000, 10, 10)


def _httpx_cli(*_args: object) -> NoReturn:
    raise SystemExit("httpx's command-line client is not loaded in cachetui")


def skip_httpx_cli() -> None:
    """Put a stand-in ``httpx._main`` in place (only before httpx is imported)."""
    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    stand_in = types.ModuleType("httpx._main", "stand-in: cachetui never runs httpx's CLI")
    stand_in.main = _httpx_cli  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = stand_in


def pace_gc() -> None:
    """Collect young objects every 20,000 allocations instead of 700 (see the module text)."""
    gc.set_threshold(*GC_THRESHOLD)


_program = False
"""Set by :func:`pause_gc`: this process is the ``cachetui`` program (not a library user)."""


def pause_gc() -> None:
    """No collections until :func:`resume_gc` (the program, first thing)."""
    global _program
    _program = True
    gc.disable()


def resume_gc() -> None:
    """The command's modules are loaded: what they made is frozen (never scanned again; the
    allocation count starts over) and collections resume. Only in the program, when paused."""
    if _program and not gc.isenabled():
        gc.freeze()
        gc.enable()


@contextlib.contextmanager
def loading() -> Iterator[None]:
    """Around modules a command loads later (the registry stack): in the program, no
    collection meanwhile and what they made frozen after; elsewhere nothing changes."""
    if not _program or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        resume_gc()


_kept: list[object] = []


def keep_until_exit(value: object) -> None:
    """In the program, ``value`` is never freed: the process ends with it (``cli.entry`` leaves
    by ``os._exit`` once output is flushed and the exit handlers ran). Elsewhere nothing."""
    if _program:
        _kept.append(value)

"""Source and destination arguments of ``copy`` and ``reexport``, and their progress line.

What a source or destination names is decided by :mod:`cachetui.locations` (shared with the
TUI); this module opens them through the run's workspace.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO

from cachetui.errors import InvalidInput, NotFound
from cachetui.locations import Location, Workspace, parse_destination, parse_location
from cachetui.oci.reference import DEFAULT_TAG
from cachetui.ops.progress import Progress
from cachetui.present import units
from cachetui.store.base import Store


@dataclass(frozen=True, slots=True)
class Destination:
    store: Store
    tag: str | None
    location: Location


def open_source(text: str, workspace: Workspace) -> tuple[Store, Location]:
    location = parse_location(text)
    if location.kind == "registry-host":
        raise InvalidInput(f"{text} is a registry host; name a repository (HOST/REPO:TAG)")
    return workspace.open(location), location


async def source_references(store: Store, location: Location, *, all_tags: bool) -> list[str]:
    """The tags (or digest) to read: the one named, every tag, ``latest``, or the only tag."""
    if all_tags:
        if location.reference is not None:
            raise InvalidInput("--all-tags copies every tag; do not name one in SOURCE")
        tags = await store.list_tags()
        if not tags:
            raise NotFound("no tags", where=store.location)
        return tags
    if location.reference is not None:
        return [location.reference]
    tags = await store.list_tags()
    if DEFAULT_TAG in tags:
        return [DEFAULT_TAG]
    if len(tags) == 1:
        return tags
    if not tags:
        raise NotFound("no tags", where=store.location)
    raise InvalidInput(f"{store.location} has {len(tags)} tags; name one (SOURCE:TAG) or use "
                       "--all-tags")


def open_destination(text: str, workspace: Workspace) -> Destination:
    """A store to write to, creating a cache directory when the path does not exist yet."""
    location = parse_destination(text)
    return Destination(workspace.open_destination(location), location.tag, location)


class ProgressLine:
    """One self-overwriting stderr line per task (only on a terminal), at most 10 times/s."""

    def __init__(self, out: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self._out = out or sys.stderr
        self._enabled = self._out.isatty() if enabled is None else enabled
        self._last = 0.0
        self._started = time.monotonic()
        self._shown = False

    def __call__(self, progress: Progress) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        finished = progress.total is not None and progress.done >= progress.total
        if now - self._last < 0.1 and not finished:
            return
        self._last = now
        if progress.unit == "bytes":
            done = units.size(progress.done)
            total = units.size(progress.total) if progress.total is not None else "?"
            rate = progress.done / max(now - self._started, 1e-6)
            text = f"{progress.task}: {done} / {total}  ({units.size(int(rate))}/s)"
        else:
            text = f"{progress.task}: {progress.done}/{progress.total} {progress.detail}"
        self._out.write("\r\x1b[2K" + text)
        self._out.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self._out.write("\r\x1b[2K")
            self._out.flush()

"""Source and destination arguments of ``copy`` and ``reexport``, and their progress line.

What a destination names is decided by :func:`cachetui.endpoints.parse_destination` (shared with
the TUI); this module opens it with the CLI's registry flags.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import TextIO

from cachetui.cli.registry_args import open_store
from cachetui.endpoints import parse_destination
from cachetui.errors import InvalidInput, NotFound
from cachetui.oci.reference import DEFAULT_TAG
from cachetui.ops.progress import Progress
from cachetui.present import units
from cachetui.sources import SourceSpec, parse_source
from cachetui.store.base import Store
from cachetui.store.layout import LayoutStore


@dataclass(frozen=True, slots=True)
class Destination:
    store: Store
    tag: str | None
    text: str


def open_source(text: str, args: argparse.Namespace) -> tuple[Store, SourceSpec]:
    spec = parse_source(text)
    if spec.kind == "host":
        raise InvalidInput(f"{text} is a registry host; name a repository (HOST/REPO:TAG)")
    return open_store(spec, args), spec


async def source_references(store: Store, spec: SourceSpec, *, all_tags: bool) -> list[str]:
    """The tags (or digest) to read: the one named, every tag, ``latest``, or the only tag."""
    if all_tags:
        if spec.reference is not None:
            raise InvalidInput("--all-tags copies every tag; do not name one in SOURCE")
        tags = await store.list_tags()
        if not tags:
            raise NotFound("no tags", where=store.location)
        return tags
    if spec.reference is not None:
        return [spec.reference]
    tags = await store.list_tags()
    if DEFAULT_TAG in tags:
        return [DEFAULT_TAG]
    if len(tags) == 1:
        return tags
    if not tags:
        raise NotFound("no tags", where=store.location)
    raise InvalidInput(f"{store.location} has {len(tags)} tags; name one (SOURCE:TAG) or use "
                       "--all-tags")


def open_destination(text: str, args: argparse.Namespace) -> Destination:
    """A store to write to, creating a cache directory when the path does not exist yet."""
    spec = parse_destination(text)
    if spec.kind == "directory":
        assert spec.path is not None
        return Destination(LayoutStore(spec.path, create=True), spec.tag, text)
    return Destination(open_store(spec.source_spec(), args), spec.tag, text)


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

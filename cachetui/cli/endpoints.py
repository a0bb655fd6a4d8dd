"""Source and destination arguments of ``copy`` and ``reexport``, and their progress line.

A destination may not exist yet: ``./new-cache``, ``./new-cache:TAG``, ``type=local,dest=DIR``
create a cache directory. A registry destination needs an explicit host (``HOST/REPO[:TAG]`` or
``type=registry,ref=...``): a bare ``name`` is a directory, never a push to Docker Hub by accident.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from cachetui.cli import humanfmt
from cachetui.errors import InvalidInput, NotFound
from cachetui.oci.cachespec import is_cache_spec, parse_cache_spec
from cachetui.oci.reference import DEFAULT_TAG, looks_like_host, validate_tag
from cachetui.ops.progress import Progress
from cachetui.sources import SourceSpec, open_store, parse_source
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


def _split_tag(text: str) -> tuple[str, str | None]:
    head, sep, tail = text.rpartition(":")
    if sep and head and "/" not in tail:
        try:
            return head, validate_tag(tail)
        except InvalidInput:
            pass
    return text, None


def open_destination(text: str, args: argparse.Namespace) -> Destination:
    """A store to write to, creating a cache directory when the path does not exist yet."""
    if is_cache_spec(text):
        spec = parse_cache_spec(text)
        if spec.type == "local":
            assert spec.path is not None
            return Destination(LayoutStore(Path(spec.path).expanduser(), create=True), spec.tag,
                               text)
        assert spec.ref is not None
        return Destination(open_store(SourceSpec("registry", text, ref=spec.ref), args),
                           spec.ref.tag, text)
    try:
        spec_or_none: SourceSpec | None = parse_source(text)
    except (NotFound, InvalidInput):
        spec_or_none = None
    if spec_or_none is not None and spec_or_none.kind == "directory":
        assert spec_or_none.path is not None
        if spec_or_none.digest is not None:
            raise InvalidInput("a destination takes a tag, not a digest", where=text)
        return Destination(LayoutStore(spec_or_none.path, create=True), spec_or_none.tag, text)
    first = text.split("/", 1)[0]
    if spec_or_none is not None and spec_or_none.kind == "host":
        raise InvalidInput(f"{text} is a registry host; name a repository (HOST/REPO:TAG)")
    if spec_or_none is not None and "/" in text and looks_like_host(first):
        assert spec_or_none.ref is not None
        if spec_or_none.digest is not None:
            raise InvalidInput("a destination takes a tag, not a digest", where=text)
        return Destination(open_store(spec_or_none, args), spec_or_none.tag, text)
    path_text, tag = _split_tag(text)
    path = Path(path_text).expanduser()
    if path.exists() and not path.is_dir():
        raise InvalidInput("not a directory", where=str(path))
    return Destination(LayoutStore(path, create=True), tag, text)


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
            done = humanfmt.size(progress.done)
            total = humanfmt.size(progress.total) if progress.total is not None else "?"
            rate = progress.done / max(now - self._started, 1e-6)
            text = f"{progress.task}: {done} / {total}  ({humanfmt.size(int(rate))}/s)"
        else:
            text = f"{progress.task}: {progress.done}/{progress.total} {progress.detail}"
        self._out.write("\r\x1b[2K" + text)
        self._out.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self._out.write("\r\x1b[2K")
            self._out.flush()

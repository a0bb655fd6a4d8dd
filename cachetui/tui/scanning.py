"""The worker side of the main screen: open sources and stream inventory events as batches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection

from textual.message import Message

from cachetui.errors import CachetuiError, NotFound
from cachetui.locations import Location, SourceRequest, Target, Workspace, parse_location
from cachetui.ops.inventory import PARALLEL_STORES, ScanEvent, ScanKnown, ScanStarted, scan_store
from cachetui.ops.load import DocumentMemo
from cachetui.tui import opening
from cachetui.tui.messages import ScanBatch, SourceAdded
from cachetui.tui.model import SourceState, SourceStatus

BATCH_SECONDS = 0.05
BATCH_EVENTS = 64

Post = Callable[[Message], object]


async def scan_target(source_id: str, target: Target, memo: DocumentMemo, post: Post) -> None:
    """Scan one store, posting events in batches (at most every 50 ms or 64 events)."""
    batch: list[ScanEvent] = []
    last = time.monotonic()
    async for event in scan_store(target.store, memo=memo, tags=target.tags, known_first=True):
        batch.append(event)
        now = time.monotonic()
        if isinstance(event, ScanStarted | ScanKnown) or len(batch) >= BATCH_EVENTS or \
                now - last >= BATCH_SECONDS:
            post(ScanBatch(source_id, batch))
            batch = []
            last = now
    if batch:
        post(ScanBatch(source_id, batch))


def group_id(request: SourceRequest) -> str:
    """The tree node of a source that opens into several stores (a registry host, a folder)."""
    return f"group:{request.text}"


def display_label(location: Location) -> str:
    """Short name for the tree and the Where column: a directory's last path component."""
    if location.kind == "local" and location.path is not None:
        name = location.path.resolve().name or str(location.path)
        return f"{name}:{location.reference}" if location.reference else name
    return location.text


def _guessed_kind(text: str) -> str:
    """The tree section of a source that could not even be parsed (it failed before a kind)."""
    for kind in ("s3", "azblob", "gha"):
        if text.startswith((f"{kind}://", f"type={kind},")):
            return kind
    return "registry" if "/" not in text and not text.startswith(".") else "directory"


async def open_request(request: SourceRequest, workspace: Workspace, post: Post, *,
                       known: Collection[str] | None = None) -> list[tuple[str, Target]]:
    """Open one requested source into stores; failures become a failed source, never raise.

    ``known`` (a refresh: the source is open already) leaves out the stores already open, so a
    registry's catalog or a folder is read again for what appeared meanwhile; a failure then
    raises (the source stays as it was shown) instead of adding a failed source.
    """
    label = request.label or request.text
    try:
        location = parse_location(request.text)
        label = request.label or display_label(location)
        expansion = await opening.expand(workspace, location)
        if not expansion.targets and expansion.searched is not None:
            problems = "; ".join(f"{path}: {why}" for path, why in expansion.unreadable)
            raise NotFound("no cache directories found" + (f" ({problems})" if problems else ""),
                           where=str(expansion.searched))
    except CachetuiError as exc:
        if known is not None:
            raise
        post(SourceAdded(SourceState(request.text, label, _guessed_kind(request.text),
                                     accent=request.accent, read_only=request.read_only,
                                     status=SourceStatus.FAILED,
                                     error=exc.args[0] if exc.args else str(exc))))
        return []
    targets = expansion.targets
    read_only = request.read_only or workspace.is_read_only(location)
    grouped = location.kind == "registry-host" or (location.kind == "local" and (
        len(targets) != 1 or targets[0].store.location != str(location.path)))
    parent = None
    if grouped:
        parent = group_id(request)
        kind = "host" if location.kind == "registry-host" else "folder"
        post(SourceAdded(SourceState(parent, label, kind, accent=request.accent,
                                     read_only=read_only, status=SourceStatus.DONE,
                                     total=None)))
    out = []
    for target in targets:
        source_id = target.store.location
        if known is not None and source_id in known:
            continue
        if grouped:
            child_label = source_id.removeprefix(str(location.path) + "/") if location.path \
                else source_id.split("/", 1)[-1]
        else:
            child_label = label
        post(SourceAdded(SourceState(source_id, child_label, target.store.kind, parent=parent,
                                     accent=request.accent,
                                     read_only=read_only or target.store.read_only,
                                     status=SourceStatus.LOADING)))
        out.append((source_id, target))
    return out


async def scan_all(targets: list[tuple[str, Target]], memo: DocumentMemo, post: Post) -> None:
    limit = asyncio.Semaphore(PARALLEL_STORES)

    async def one(source_id: str, target: Target) -> None:
        async with limit:
            await scan_target(source_id, target, memo, post)

    await asyncio.gather(*(one(source_id, target) for source_id, target in targets))

"""The worker side of the main screen: open sources and stream inventory events as batches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from textual.message import Message

from cachetui.errors import CachetuiError
from cachetui.ops.inventory import PARALLEL_STORES, ScanEvent, ScanKnown, ScanStarted, scan_store
from cachetui.ops.load import DocumentMemo
from cachetui.tui.messages import ScanBatch, SourceAdded
from cachetui.tui.model import SourceState, SourceStatus
from cachetui.tui.opening import (
    RegistryAccess,
    SourceRequest,
    Target,
    directory_targets,
    display_label,
    open_targets,
    parse,
)

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


async def open_request(request: SourceRequest, registry: RegistryAccess,
                       post: Post) -> list[tuple[str, Target]]:
    """Open one requested source into stores; failures become a failed source, never raise."""
    label = request.label or request.text
    try:
        spec = parse(request.text)
        label = request.label or display_label(spec)
        if spec.kind == "directory":
            targets = await asyncio.to_thread(directory_targets, spec)
        else:
            targets = await open_targets(spec, registry)
    except CachetuiError as exc:
        kind = "registry" if "/" not in request.text and not request.text.startswith(".") else \
            "directory"
        post(SourceAdded(SourceState(request.text, label, kind, accent=request.accent,
                                     read_only=request.read_only, status=SourceStatus.FAILED,
                                     error=exc.args[0] if exc.args else str(exc))))
        return []
    host = spec.host if spec.kind == "host" else spec.ref.registry if spec.ref else None
    read_only = request.read_only or (host is not None and registry.host_read_only(host))
    grouped = spec.kind == "host" or (spec.kind == "directory" and (
        len(targets) != 1 or targets[0].store.location != str(spec.path)))
    parent = None
    if grouped:
        parent = f"group:{request.text}"
        kind = "host" if spec.kind == "host" else "folder"
        post(SourceAdded(SourceState(parent, label, kind, accent=request.accent,
                                     read_only=read_only, status=SourceStatus.DONE,
                                     total=None)))
    out = []
    for target in targets:
        location = target.store.location
        if grouped:
            child_label = location.removeprefix(str(spec.path) + "/") if spec.path else \
                location.split("/", 1)[-1]
        else:
            child_label = label
        post(SourceAdded(SourceState(location, child_label, target.store.kind, parent=parent,
                                     accent=request.accent, read_only=read_only,
                                     status=SourceStatus.LOADING)))
        out.append((location, target))
    return out


async def scan_all(targets: list[tuple[str, Target]], memo: DocumentMemo, post: Post) -> None:
    limit = asyncio.Semaphore(PARALLEL_STORES)

    async def one(source_id: str, target: Target) -> None:
        async with limit:
            await scan_target(source_id, target, memo, post)

    await asyncio.gather(*(one(source_id, target) for source_id, target in targets))

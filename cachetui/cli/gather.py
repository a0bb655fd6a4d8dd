"""Expand source arguments into stores and scan them (shared by ``ls`` and ``inspect``)."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, field

from cachetui.cli.registry_args import open_store
from cachetui.errors import CachetuiError
from cachetui.ops.inventory import PARALLEL_STORES, CacheEntry, ScanResult, collect, scan_store
from cachetui.ops.load import DocumentMemo
from cachetui.sources import SourceSpec, parse_source
from cachetui.store.base import Store
from cachetui.store.discovery import discover, is_layout
from cachetui.store.layout import LayoutStore


@dataclass(slots=True)
class Gathered:
    entries: list[CacheEntry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unreferenced: dict[str, int | None] = field(default_factory=dict)
    stores: dict[str, Store] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(source, message) of every source that failed as a whole (also in ``errors``)."""


async def stores_for(spec: SourceSpec, args: argparse.Namespace, *, discover_depth: int,
                     errors: list[str]) -> list[tuple[Store, list[str] | None]]:
    """The stores a source names, each with the tags to read (``None`` = every tag)."""
    reference = spec.reference
    tags = [reference] if reference else None
    if spec.kind == "directory":
        assert spec.path is not None
        if is_layout(spec.path) or tags is not None or discover_depth == 0:
            return [(LayoutStore(spec.path), tags)]
        found = discover(spec.path, max_depth=discover_depth)
        for path, reason in found.unreadable:
            errors.append(f"{path}: cannot read folder: {reason}")
        if not found.layouts:
            errors.append(f"{spec.path}: no cache directories found")
        return [(LayoutStore(path), None) for path in found.layouts]
    if spec.kind == "host":
        from cachetui.cli.registry_args import catalog, repository_store
        from cachetui.oci.reference import parse_reference

        assert spec.host is not None
        stores: list[tuple[Store, list[str] | None]] = []
        for repo in await catalog(spec.host, args):
            try:  # a name a registry lists may be no valid name: that repository's error
                ref = parse_reference(f"{spec.host}/{repo}", default_tag=False)
            except CachetuiError as exc:
                errors.append(str(exc))
                continue
            stores.append((repository_store(ref, args, listed=True), None))
        return stores
    return [(open_store(spec, args), tags)]


async def gather(args: argparse.Namespace, sources: list[str], *,
                 discover_depth: int = 4) -> Gathered:
    """Scan every source; failures are collected per source, never raised.

    Stores are scanned ``PARALLEL_STORES`` at a time (a registry's catalog of small repositories
    would otherwise cost a round trip per repository in a row); the output keeps argument order.
    """
    out = Gathered()
    memo = DocumentMemo()
    targets: list[tuple[Store, list[str] | None]] = []
    for text in sources:
        before = len(out.errors)
        try:
            spec = parse_source(text)
            targets += await stores_for(spec, args, discover_depth=discover_depth,
                                        errors=out.errors)
        except CachetuiError as exc:
            out.errors.append(str(exc))
        out.failed.extend((text, message) for message in out.errors[before:])
    limit = asyncio.Semaphore(PARALLEL_STORES)

    async def scan(store: Store, tags: list[str] | None) -> ScanResult:
        async with limit:
            return await collect(scan_store(store, memo=memo, tags=tags))

    results = await asyncio.gather(*(scan(store, tags) for store, tags in targets))
    for (store, _), (entries, errors, stats) in zip(targets, results, strict=True):
        out.stores[store.location] = store
        out.entries.extend(sorted(entries, key=lambda entry: entry.tag))
        out.errors.extend(errors)
        out.failed.extend((store.location, message) for message in errors)
        out.unreferenced.update(stats)
    return out

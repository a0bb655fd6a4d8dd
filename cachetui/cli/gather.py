"""Expand source arguments into stores and scan them (shared by ``ls`` and ``inspect``)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from cachetui.errors import CachetuiError
from cachetui.ops.inventory import CacheEntry, collect, scan_store
from cachetui.ops.load import DocumentMemo
from cachetui.sources import SourceSpec, open_store, parse_source
from cachetui.store.base import Store
from cachetui.store.discovery import discover, is_layout
from cachetui.store.layout import LayoutStore


@dataclass(slots=True)
class Gathered:
    entries: list[CacheEntry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unreferenced: dict[str, int | None] = field(default_factory=dict)
    stores: dict[str, Store] = field(default_factory=dict)


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
        repositories = await catalog(spec.host, args)
        return [
            (repository_store(parse_reference(f"{spec.host}/{repo}", default_tag=False), args),
             None)
            for repo in repositories
        ]
    return [(open_store(spec, args), tags)]


async def gather(args: argparse.Namespace, sources: list[str], *,
                 discover_depth: int = 4) -> Gathered:
    """Scan every source; failures are collected per source, never raised."""
    out = Gathered()
    memo = DocumentMemo()
    for text in sources:
        try:
            spec = parse_source(text)
            targets = await stores_for(spec, args, discover_depth=discover_depth,
                                       errors=out.errors)
        except CachetuiError as exc:
            out.errors.append(str(exc))
            continue
        for store, tags in targets:
            out.stores[store.location] = store
            entries, errors, stats = await collect(scan_store(store, memo=memo, tags=tags))
            entries.sort(key=lambda entry: entry.tag)
            out.entries.extend(entries)
            out.errors.extend(errors)
            out.unreferenced.update(stats)
    return out

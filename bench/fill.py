"""Fill a loopback registry with caches (shared by benchmarks)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from cachetui.buildkit.document import config_descriptor
from cachetui.oci.models import Descriptor, TopObject, parse_top
from cachetui.store.layout import LayoutStore
from cachetui.store.registry import RegistrySession


async def fill_registry(host: str, repository: str, layout: Path, *, distinct: int,
                        copies: int) -> None:
    """Push tags ``m00``.. of ``layout`` as ``cache-II-JJ``: ``copies`` tags per manifest."""
    source = LayoutStore(layout)
    async with RegistrySession() as session:
        store = session.store(host, repository)
        for i in range(distinct):
            top = await source.get_manifest(f"m{i:02d}")
            for child in top.children():
                await store.put_blob(child, source.open_blob(child))
            await asyncio.gather(*(store.put_manifest(top, f"cache-{i:02d}-{j:02d}")
                                   for j in range(copies)))


@dataclass(frozen=True, slots=True)
class Variant:
    """One distinct cache: its own config (one record key changed) and so its own manifest."""

    top: TopObject
    config: Descriptor
    config_raw: bytes


async def variants(layout: Path, bases: list[str], count: int, salt: str) -> list[Variant]:
    """``count`` distinct caches made from the ``bases`` tags of ``layout``, round robin.

    A record's cache key is replaced by a fresh digest of the same length, so the config's size
    stays, and the top object (manifest or index, any form) only changes that digest."""
    source = LayoutStore(layout)
    out = []
    tops = [await source.get_manifest(tag) for tag in bases]
    for index in range(count):
        top = tops[index % len(tops)]
        descriptor = config_descriptor(top)
        assert descriptor is not None
        config = json.loads(await source.read_blob(descriptor))
        config["records"][0]["digest"] = "sha256:" + hashlib.sha256(
            f"{salt}/{index}".encode()).hexdigest()
        raw = json.dumps(config, separators=(",", ":")).encode()
        new = "sha256:" + hashlib.sha256(raw).hexdigest()
        top_raw = top.raw.replace(descriptor.digest.encode(), new.encode())
        if len(raw) != descriptor.size:
            top_raw = top_raw.replace(f'"size":{descriptor.size}'.encode(),
                                      f'"size":{len(raw)}'.encode())
        new_top = parse_top(top_raw, media_type=top.media_type)
        out.append(Variant(new_top, Descriptor(media_type=descriptor.media_type, digest=new,
                                               size=len(raw)), raw))
    return out


async def push_variants(host: str, repository: str, layout: Path, bases: list[str],
                        items: list[Variant], *, parallel: int = 16) -> list[str]:
    """Push the shared layers once, then each variant's config and manifest as ``c-NNNN``."""
    source = LayoutStore(layout)
    async with RegistrySession() as session:
        store = session.store(host, repository)
        for tag in bases:
            top = await source.get_manifest(tag)
            children = [c for c in top.children() if c != config_descriptor(top)]
            for child in children:
                await store.put_blob(child, source.open_blob(child))
        limit = asyncio.Semaphore(parallel)
        tags = [f"c-{index:04d}" for index in range(len(items))]

        async def one(tag: str, item: Variant) -> None:
            async with limit:
                await store.put_blob(item.config, _once(item.config_raw))
                await store.put_manifest(item.top, tag)

        await asyncio.gather(*(one(tag, item) for tag, item in zip(tags, items, strict=True)))
    return tags


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data

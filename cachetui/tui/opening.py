"""The one way the TUI opens a store: what is slow to make is made in a thread, then it opens.

Openers import their store module when first called (:mod:`cachetui.locations.openers`), so a
run that only reads directories never loads an HTTP stack. On the event loop that first call
was one loop step of 130-170 ms CPU for a registry (aiohttp, httpx and the registry client;
httpcore for s3, azblob and gha): the worst stall while a registry's 3,000 rows filled
(``bench/bench_scale.py``), and again whenever a source was added later or a copy or re-export
dialog opened a destination of a kind not loaded yet. The first TLS request of a registry then
parsed the system's CA bundle for its context (20-40 ms), on the loop too, as did an s3,
azblob or gha store for its httpx client's context as it opened (certifi's bundle, ~20 ms).

:func:`ready` does both in a thread (Python switches threads every few milliseconds while an
import runs); :func:`expand` (a source) and :func:`open_destination` (the dialogs) open after
it. At start-up :func:`preload` imports every requested source's modules in one go. Importing
the registry stack in a thread at any time is safe: the patch it applies to ``ssl`` while aiohttp
loads is seen by the importing thread only
(:func:`cachetui.store.registry.trust.import_aiohttp`).
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Iterable
from typing import Final

from cachetui import startup
from cachetui.locations import Expansion, Location, LocationKind, Workspace
from cachetui.locations.openers import PREPARERS, prepare
from cachetui.store.base import Store

_REGISTRY: Final = ("cachetui.store.registry.session", "cachetui.store.vendor.opener")
_HTTPX: Final = ("httpcore",)
"""httpx imports its transport (httpcore) when the first client is made: in the opener."""
STORE_MODULES: Final[dict[LocationKind, tuple[str, ...]]] = {
    "local": ("cachetui.store.layout",),
    "registry": _REGISTRY,
    "inline": _REGISTRY,
    "registry-host": _REGISTRY,
    "s3": ("cachetui.store.objspec", *_HTTPX),
    "azblob": ("cachetui.store.objspec", *_HTTPX),
    "gha": ("cachetui.store.gha.opener", *_HTTPX),
}
"""What each kind's opener (``cachetui.locations.openers``) imports on its first call."""


def _import_all(names: tuple[str, ...]) -> None:
    with startup.loading():  # as Workspace.registry_session around the same imports
        for name in names:
            try:
                importlib.import_module(name)
            except ImportError:
                continue  # the opener meets the same error and reports it on its source


async def preload(locations: Iterable[Location]) -> None:
    """Import, in a thread, what opening ``locations`` will import (at once when loaded)."""
    wanted = dict.fromkeys(name for location in locations
                           for name in STORE_MODULES.get(location.kind, ()))
    missing = tuple(name for name in wanted if name not in sys.modules)
    if missing:
        await asyncio.to_thread(_import_all, missing)


async def ready(workspace: Workspace, location: Location) -> None:
    """Make in a thread what opening ``location`` would make on the loop: its store modules,
    then what its kind makes first (:func:`cachetui.locations.openers.prepare`: the TLS context
    of a registry's first request, of an s3, azblob or gha client)."""
    await preload([location])
    if location.kind not in PREPARERS:
        return
    if location.api_host is not None:
        if "cachetui.store.registry.session" not in sys.modules:
            return  # it could not be imported: the open says so on its source
        workspace.registry_session()  # on the loop: it imports nothing now (cheap)
    await asyncio.to_thread(prepare, workspace, location)


async def expand(workspace: Workspace, location: Location) -> Expansion:
    """The stores a source names (:meth:`Workspace.expand`), opened once :func:`ready`."""
    await ready(workspace, location)
    return await workspace.expand(location)


async def open_destination(workspace: Workspace, location: Location) -> Store:
    """A store to write to (:meth:`Workspace.open_destination`), opened once :func:`ready`."""
    await ready(workspace, location)
    return workspace.open_destination(location)

"""Import the requested sources' store modules in a thread while the TUI starts.

Openers import their store module when first called (:mod:`cachetui.locations.openers`), so a
run that only reads directories never loads an HTTP stack. In the TUI that first call ran on the
event loop: opening a registry imported aiohttp, httpx and the registry client there, one loop
step of 130-170 ms CPU right when the sources appeared, the worst stall while a registry's 3,000
rows filled (``bench/bench_scale.py``). Imported in a thread, they leave the loop free (Python
switches threads every few milliseconds while an import runs).

Only at start-up, before any store is open: the registry stack's import patches :mod:`ssl` while
aiohttp loads (:func:`cachetui.store.registry.trust.import_aiohttp`), so nothing may make a TLS
context meanwhile. The main screen opens its sources once :func:`preload` is done; a source
added later imports what it needs on the loop, as before.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Iterable
from typing import Final

from cachetui import startup
from cachetui.locations import Location, LocationKind

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

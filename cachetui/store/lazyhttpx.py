"""httpx, loaded when first used.

An anonymous registry listing reads every document through libcurl (``registry/curl.py``):
httpx only carries the rest (tokens, uploads, blob streams, proxies, error answers). Loading it
costs about 30 ms of every start on the reference machine (it brings httpcore, h11, anyio, idna,
``http.client``, ``email`` and ``urllib.request``), serial time before the first request of a
listing. So the registry modules name it through :data:`httpx`, which imports the real module
when an attribute is first read and keeps each attribute once read. Type checkers see the real
module (``if TYPE_CHECKING: import httpx``); the names are the same.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _OnFirstUse:
    """Stands in for a module until an attribute is read; then every read is the module's."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        # (only for names not kept yet: a kept one is a plain instance attribute)
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        value = getattr(module, attribute)
        setattr(self, attribute, value)
        return value

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<{self._name}, loaded on first use: {state}>"


httpx: Any = _OnFirstUse("httpx")
"""The httpx module, imported on the first attribute read."""

"""What carries a lean read (:mod:`lean`): the shape both engines have, and whether libcurl is here."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from cachetui.store.registry.transport import Pace


@dataclass(frozen=True, slots=True)
class LeanAnswer:
    """A whole answer of a lean read: status, headers (case-insensitive), body (capped)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def status_code(self) -> int:
        """``status`` by httpx's name for it: the error and retry code read either answer."""
        return self.status


@runtime_checkable
class LeanTransport(Protocol):
    """A body-less request answered by a small document, read whole (see ``aio`` and ``curl``)."""

    async def lean(self, method: str, url: str, headers: Mapping[str, str], *,
                   timeouts: tuple[float, float], limit: int, error_limit: int,
                   pace: Pace | None, where: str, action: str) -> LeanAnswer: ...


@cache
def curl_available() -> bool:
    """Whether lean reads can go through libcurl: pycurl is there, and the event loop is one that
    watches sockets (pycurl's integration needs a selector loop; Windows runs a proactor loop).
    Where not, every lean read rides aiohttp."""
    return sys.platform != "win32" and importlib.util.find_spec("pycurl") is not None

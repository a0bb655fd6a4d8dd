"""The lean way to read a small document (a manifest, a cache config, a ``HEAD``, the first tag
page) from a registry.

A listing makes two such reads per cache. Through httpx each one builds a request, a URL parse,
header objects, an auth flow generator and a response: a listing of 300 caches took 0.85 CPU s
that way and 0.62 s straight on aiohttp (``bench/bench_transport.py``, "lean" against "aio"),
and the client shares the cores with the registry when both run on one machine. This path sends
the same request on the route's lean engine (:meth:`routing.Router.lean_for`: libcurl, see
:mod:`curl`, or the aiohttp session of the httpx transport), with the ``Authorization`` header
the auth flow would send now, and keeps every check of the httpx path: the document deadline,
the minimum rate, the size caps, ``Content-Length``, the retry policy.

A new host's credentials are looked up here as the flow looks them up. What it does not do, it
hands back (``None``), so that each thing is handled in one place, by the httpx path: an expired
token, a ``401`` challenge (whose scheme it passes to the flow, :meth:`RegistryAuth.learn`).
Redirects come back as answers for the caller to route. Sessions built on a transport of their
own (tests that inject faults) never take this path.
"""

from __future__ import annotations

import asyncio
import re
from typing import Final

from cachetui.store.registry.auth import RegistryAuth
from cachetui.store.registry.errors import MAX_ERROR_BODY, from_response
from cachetui.store.registry.lean_api import LeanAnswer, LeanTransport
from cachetui.store.registry.retry import is_retryable_status
from cachetui.store.registry.settings import RegistrySettings
from cachetui.store.registry.transport import (
    RetryableStatus,
    attempts,
    check_length,
    within,
)

REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_PLAIN_PATH: Final = re.compile(r"\A/[!-~]*\Z")
"""Printable ASCII, no spaces: anything else goes through httpx, whose URL check says why."""
_BASE_HEADERS: Final = {"User-Agent": "cachetui", "Accept-Encoding": "identity"}
"""What the httpx client sends with every request (see ``session.RegistrySession``)."""


class LeanReader:
    """Small reads of one registry host, outside httpx (see the module docstring)."""

    def __init__(self, transport: LeanTransport, auth: RegistryAuth, netloc: str,
                 origin: str, settings: RegistrySettings, slots: asyncio.Semaphore) -> None:
        self.transport = transport
        self.slots = slots
        """The host's concurrency limit, shared with the httpx path."""
        self.auth = auth
        self.netloc = netloc
        """``host[:port]`` as the auth flow names it (httpx's normalised form)."""
        self.origin = origin
        self.settings = settings
        self._timeouts = (settings.connect_timeout, settings.stall_timeout)

    async def fetch(self, method: str, path: str, *, where: str, action: str,
                    accept: str | None, limit: int, ok: tuple[int, ...] = (200,)
                    ) -> LeanAnswer | None:
        """The answer to ``method`` on ``path``: an ``ok`` status or a redirect; ``None`` when
        the httpx path must do it (see above). Error statuses raise as there."""
        if not _PLAIN_PATH.match(path):
            return None
        preset = self.auth.preset(self.netloc, method, path)
        if preset is None and not self.auth.knows(self.netloc):
            await self.auth.credentials_for(self.netloc)  # as the flow looks them up
            preset = self.auth.preset(self.netloc, method, path)
        if preset is None:
            return None
        headers = {**_BASE_HEADERS, **preset}
        if accept is not None:
            headers["Accept"] = accept
        url = self.origin + path
        settings = self.settings

        async def exchange() -> LeanAnswer:
            return await self.transport.lean(
                method, url, headers, timeouts=self._timeouts, limit=limit,
                error_limit=MAX_ERROR_BODY, pace=settings.pace, where=where, action=action)

        async def once() -> LeanAnswer | None:
            async with self.slots:
                answer = await within(exchange, settings.document_deadline, where=where,
                                      action=action)
            status = answer.status
            if status in ok:
                if method != "HEAD" and not over_limit(answer, limit):
                    check_length(answer.headers, len(answer.body))
                return answer
            if status == 401:  # a challenge: the auth flow answers it (knowing its scheme)
                self.auth.learn(self.netloc, answer.headers.get("www-authenticate") or "")
                return None
            if status in REDIRECTS:
                return answer
            error = from_response(answer, answer.body, where=where, action=action)
            if is_retryable_status(status):
                raise RetryableStatus(answer, error)
            raise error

        return await attempts(once, settings.retry, where=where, action=action)


def over_limit(answer: LeanAnswer, limit: int) -> bool:
    """Whether an answer is over ``limit`` bytes, as received or as declared (then unread)."""
    declared = answer.headers.get("content-length") or ""
    return len(answer.body) > limit or (declared.isdigit() and int(declared) > limit)

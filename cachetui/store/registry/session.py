"""The one HTTP client of a process, with auth and a concurrency limit per registry host.

A session hands out :class:`RegistryStore` objects for repositories; they all share its connection
pool, token cache and semaphores, so a scan of many repositories on one registry stays within that
registry's limit. Close it once at the end (``async with`` or :meth:`aclose`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import httpx
else:
    from cachetui.store.lazyhttpx import httpx

from cachetui.oci.reference import ImageRef
from cachetui.store.registry import credentials as creds
from cachetui.store.registry.auth import RegistryAuth
from cachetui.store.registry.client import RegistryClient
from cachetui.store.registry.errors import from_response
from cachetui.store.registry.lean_api import curl_available
from cachetui.store.registry.routing import Router
from cachetui.store.registry.settings import RegistrySettings
from cachetui.store.registry.store import RegistryStore
from cachetui.store.registry.transport import RetryableStatus, attempts, read_capped, within

MAX_TOKEN_BODY: Final = 1024 * 1024
"""A token answer is a few KB of JSON; anything much larger is refused, not held."""


class RegistrySession:
    """Owns the shared ``httpx.AsyncClient``; ``transport`` lets tests put faults in front of it.

    The real transport is a :class:`Router`: direct connections, or the environment's proxy.
    """

    def __init__(self, settings: RegistrySettings | None = None, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 credential_lookup: Callable[[str], creds.Credentials | None] | None = None
                 ) -> None:
        self.settings = settings or RegistrySettings()
        self._router: Router | None = None
        if transport is None:
            self._router = Router(self.settings, self._make_transport)
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._explicit = self.settings.credentials
        self._lookup = credential_lookup or creds.lookup
        self.auth = RegistryAuth(self._credentials, self._fetch_token, self._realm_allowed)
        self._clients: dict[str, RegistryClient] = {}
        self._realms: dict[bytes, asyncio.Future[None]] = {}
        """Token servers whose TLS context is made or being made (:meth:`_prepare_realm`)."""

    @property
    def http(self) -> httpx.AsyncClient:
        """The session's httpx client, made on first use: a listing whose reads all go through
        libcurl never loads httpx (:mod:`cachetui.store.lazyhttpx`)."""
        if self._http is None:
            from cachetui.store.registry.httpclient import RouterTransport, registry_http_client

            transport = self._transport
            if transport is None:
                assert self._router is not None
                transport = RouterTransport(self._router)
            self._http = registry_http_client(self.settings, transport, self.auth)
        return self._http

    def _make_transport(self, context: ssl.SSLContext | None,
                        proxy: httpx.Proxy | None) -> httpx.AsyncBaseTransport:
        """One pool per route (aiohttp tunnels https through a proxy with CONNECT). aiohttp is
        loaded here, on the first request that needs it: a listing whose reads all go through
        libcurl never loads it (about 45 ms of start-up)."""
        from cachetui.store.registry.aio import RegistryTransport

        return RegistryTransport(context, proxy=proxy, idle_expiry=self.settings.idle_expiry)

    def _realm_allowed(self, host: str, realm: httpx.URL) -> str | None:
        """Why credentials for ``host`` must not go to ``realm``, or ``None`` when they may.

        Only over HTTPS, unless the user accepted plain HTTP for this registry: configured
        insecure, or a loopback registry whose realm is on the same host.
        """
        if realm.scheme == "https" or host in self.settings.insecure_hosts:
            return None
        registry_host = httpx.URL(f"http://{host}").host
        if self.settings.uses_plain_http(host) and realm.host == registry_host:
            return None
        return (f"the token server {realm.scheme}://{realm.netloc.decode('ascii')} is plain HTTP "
                f"on another host; credentials are not sent there (mark the registry insecure "
                f"with --insecure or insecure = true in the config if that is intended)")

    def _credentials(self, host: str) -> creds.Credentials | None:
        if self._explicit is not None:
            return self._explicit
        return self._lookup(host)

    async def _fetch_token(self, request: httpx.Request) -> tuple[httpx.Response, bytes]:
        """The token server's answer and (capped, paced, deadline-bound) body."""
        where = request.url.host
        seconds = self.settings.document_deadline
        await self._prepare_realm(request.url)

        async def exchange() -> tuple[httpx.Response, bytes]:
            response = await self.http.send(request, auth=None, follow_redirects=True,
                                            stream=True)
            try:
                body = await read_capped(response, MAX_TOKEN_BODY, self.settings.pace,
                                         where=where, action="get token")
            finally:
                await response.aclose()
            return response, body

        async def once() -> tuple[httpx.Response, bytes]:
            response, body = await within(exchange, seconds, where=where, action="get token")
            if response.status_code in (429, 502, 503, 504):
                raise RetryableStatus(response, from_response(response, body, where=where,
                                                              action="get token"))
            return response, body

        return await attempts(once, self.settings.retry, where=where, action="get token")

    async def _prepare_realm(self, url: httpx.URL) -> None:
        """A token server's TLS context, made in a thread before its first request.

        The realm is known only once a 401 names it. On another host it may need a context the
        registry's route did not (its own CA file, or the system's trust beside a registry
        trusted through its CA file): made on the event loop by the request, that was 20-40 ms
        of the TUI's loop. Once per realm host and session; concurrent fetches wait for the same
        one; an error is left to the request, as :meth:`Router.prepare` does.
        """
        if self._router is None:
            return
        made = self._realms.get(url.netloc)
        if made is None:
            made = self._realms[url.netloc] = asyncio.ensure_future(
                asyncio.to_thread(self._router.prepare, url))
        with contextlib.suppress(Exception):
            await asyncio.shield(made)

    def prepare(self, host: str) -> None:
        """Make now what the first request to ``host`` would make on the event loop: its TLS
        context (the system's CA bundle parsed, 20-40 ms). For a thread; safe beside requests."""
        from cachetui.store.registry import aio  # noqa: F401 (loaded here, not on the loop)

        if curl_available():
            from cachetui.store.registry import curl  # noqa: F401 (pycurl, libcurl's set-up)

        if self._router is not None:
            try:
                url = httpx.URL(f"{self.settings.scheme(host)}://{host}")
            except httpx.InvalidURL:
                return  # the first request says why, as one line (RegistryClient.base)
            self._router.prepare(url)

    def client(self, host: str) -> RegistryClient:
        found = self._clients.get(host)
        if found is None:
            found = RegistryClient(lambda: self.http, self.auth, host, self.settings,
                                   route=None if self._router is None
                                   else self._router.lean_for)
            self._clients[host] = found
        return found

    def repository(self, ref: ImageRef, *, listed: bool = False,
                   read_only: bool = False) -> RegistryStore:
        """``listed``: the name came from the catalog (see :class:`RegistryStore`)."""
        return RegistryStore(self.client(ref.api_host), ref.repository, listed=listed,
                             read_only=read_only)

    def store(self, host: str, repository: str, *, listed: bool = False) -> RegistryStore:
        return RegistryStore(self.client(host), repository, listed=listed)

    async def catalog(self, host: str, page_size: int | None = None) -> list[str]:
        return await self.client(host).catalog(page_size)

    async def ping(self, host: str) -> None:
        await self.client(host).ping()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()  # (closes its transport: the router, or the test's own)
        elif self._router is not None:
            await self._router.aclose()
        elif self._transport is not None:
            await self._transport.aclose()

    async def __aenter__(self) -> RegistrySession:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

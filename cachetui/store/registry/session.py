"""The one HTTP client of a process, with auth and a concurrency limit per registry host.

A session hands out :class:`RegistryStore` objects for repositories; they all share its connection
pool, token cache and semaphores, so a scan of many repositories on one registry stays within that
registry's limit. Close it once at the end (``async with`` or :meth:`aclose`).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx

from cachetui.oci.reference import ImageRef
from cachetui.store.registry import credentials as creds
from cachetui.store.registry.auth import RegistryAuth
from cachetui.store.registry.client import RegistryClient
from cachetui.store.registry.settings import RegistrySettings
from cachetui.store.registry.store import RegistryStore
from cachetui.store.registry.transport import attempts
from cachetui.store.registry.wire import WireTransport

_LOOPBACK_PATTERNS = ("all://localhost", "all://127.0.0.1", "all://[::1]")


def _ssl_context(ca_file: str) -> ssl.SSLContext:
    """System trust (which honours ``SSL_CERT_FILE``) plus the registry's own CA."""
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=ca_file)
    return context


class _NoCookies(httpx.Cookies):
    """The distribution API does not use cookies: nothing is stored, nothing is parsed."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _RegistryHttpClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` without a cookie jar.

    httpx hands every response to its jar through urllib compatibility wrappers, which re-parse
    the URL and build an ``email.message``: a fifth of the client's CPU per manifest request in
    an inventory, for cookies a registry never sets.
    """

    _no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("registry requests carry no cookies")


class RegistrySession:
    """Owns the shared ``httpx.AsyncClient``; ``transport`` lets tests put faults in front of it.

    The real transport is :class:`WireTransport` (fault wrappers in tests wrap one too).
    """

    def __init__(self, settings: RegistrySettings | None = None, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 credential_lookup: Callable[[str], creds.Credentials | None] | None = None
                 ) -> None:
        self.settings = settings or RegistrySettings()
        timeout = httpx.Timeout(connect=self.settings.connect_timeout,
                                read=self.settings.stall_timeout,
                                write=self.settings.stall_timeout, pool=None)
        mounts: dict[str, httpx.AsyncBaseTransport | None] = {
            pattern: None for pattern in _LOOPBACK_PATTERNS  # never via a proxy
        }
        for host, ca_file in self.settings.ca_files.items():
            mounts[f"https://{host}"] = WireTransport(_ssl_context(ca_file))
        verify: ssl.SSLContext | bool = True
        if self.settings.default_ca_file:
            verify = _ssl_context(self.settings.default_ca_file)
        if transport is None:
            # URLs an environment proxy applies to still go through httpx's proxy transports
            # (mounted by trust_env); everything else takes the lean transport.
            context = verify if isinstance(verify, ssl.SSLContext) else None
            transport = WireTransport(context)
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        self.http = _RegistryHttpClient(timeout=timeout, limits=limits, trust_env=True,
                                        verify=verify, transport=transport, mounts=mounts,
                                        headers={"User-Agent": "cachetui"})
        self._explicit = self.settings.credentials
        self._lookup = credential_lookup or creds.lookup
        self.auth = RegistryAuth(self._credentials, self._fetch_token)
        self._clients: dict[str, RegistryClient] = {}

    def _credentials(self, host: str) -> creds.Credentials | None:
        if self._explicit is not None:
            return self._explicit
        return self._lookup(host)

    async def _fetch_token(self, request: httpx.Request) -> httpx.Response:
        where = request.url.host

        async def once() -> httpx.Response:
            response = await self.http.send(request, auth=None, follow_redirects=True)
            if response.status_code in (429, 502, 503, 504):
                from cachetui.store.registry.errors import from_response
                from cachetui.store.registry.transport import RetryableStatus

                raise RetryableStatus(response, from_response(response, response.content,
                                                              where=where, action="get token"))
            return response

        return await attempts(once, self.settings.retry, where=where, action="get token")

    def client(self, host: str) -> RegistryClient:
        found = self._clients.get(host)
        if found is None:
            found = RegistryClient(self.http, self.auth, host, self.settings)
            self._clients[host] = found
        return found

    def repository(self, ref: ImageRef, *, listed: bool = False) -> RegistryStore:
        """``listed``: the name came from the catalog (see :class:`RegistryStore`)."""
        return RegistryStore(self.client(ref.api_host), ref.repository, listed=listed)

    def store(self, host: str, repository: str, *, listed: bool = False) -> RegistryStore:
        return RegistryStore(self.client(host), repository, listed=listed)

    async def catalog(self, host: str, page_size: int | None = None) -> list[str]:
        return await self.client(host).catalog(page_size)

    async def ping(self, host: str) -> None:
        await self.client(host).ping()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> RegistrySession:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

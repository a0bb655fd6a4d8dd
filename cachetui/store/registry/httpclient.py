"""The httpx side of a registry session, made on its first request that needs httpx.

An anonymous listing reads everything through libcurl and never comes here (httpx is about 30 ms
of start-up, see :mod:`cachetui.store.lazyhttpx`). What httpx needs to be given as its own types
is adapted here: the router as a transport, the auth flow as an ``httpx.Auth``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import httpx

from cachetui.store.registry.auth import RegistryAuth
from cachetui.store.registry.routing import Router
from cachetui.store.registry.settings import RegistrySettings


class _NoCookies(httpx.Cookies):
    """The distribution API does not use cookies: nothing is stored, nothing is parsed."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class RegistryHttpClient(httpx.AsyncClient):
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


class RouterTransport(httpx.AsyncBaseTransport):
    """The session's :class:`Router`, as httpx calls a transport."""

    def __init__(self, router: Router) -> None:
        self.router = router

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.router.handle_async_request(request)

    async def aclose(self) -> None:
        await self.router.aclose()


class AuthFlow(httpx.Auth):
    """The session's :class:`RegistryAuth`, as httpx runs an auth flow."""

    def __init__(self, auth: RegistryAuth) -> None:
        self.auth = auth

    def async_auth_flow(self, request: httpx.Request
                        ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        return self.auth.async_auth_flow(request)


def registry_http_client(settings: RegistrySettings, transport: httpx.AsyncBaseTransport,
                         auth: RegistryAuth) -> RegistryHttpClient:
    """The one httpx client of a session: its timeouts, no environment (the router reads the
    proxies), the auth flow on every request that does not say otherwise (a token request
    sends ``auth=None``)."""
    timeout = httpx.Timeout(connect=settings.connect_timeout, read=settings.stall_timeout,
                            write=settings.stall_timeout, pool=None)
    # Accept-Encoding: identity: bodies are content-addressed bytes, taken as sent (an encoded
    # one is refused, see transport.refuse_encoding).
    return RegistryHttpClient(timeout=timeout, trust_env=False, transport=transport,
                              auth=AuthFlow(auth),
                              headers={"User-Agent": "cachetui", "Accept-Encoding": "identity"})

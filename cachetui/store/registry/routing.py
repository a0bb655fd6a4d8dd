"""Which way each registry request goes: straight to the registry, or through a proxy.

httpx applies ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``/``NO_PROXY`` only when it builds its own
transport, so a session with a transport of its own would silently ignore them (behind a
mandatory proxy, every call then failed with a bare connect error). The router reads the
environment once, routes per request, and never proxies loopback. Each (proxy, trust) pair gets
one transport with its own pool; idle connections in every pool expire.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx
else:
    from cachetui.store.lazyhttpx import httpx

from cachetui.errors import InvalidInput
from cachetui.store.registry import trust
from cachetui.store.registry.lean_api import LeanTransport, curl_available

if TYPE_CHECKING:
    from cachetui.store.registry.curl import CurlLean
from cachetui.store.registry.settings import RegistrySettings, is_loopback
from cachetui.store.tls import with_ca_file

if TYPE_CHECKING:
    MakeTransport = Callable[[ssl.SSLContext | None, httpx.Proxy | None],
                             httpx.AsyncBaseTransport]


def _bypass(netloc: str, proxies: dict[str, str]) -> bool:
    """``NO_PROXY`` matching as urllib (and curl) do it: host, ``.domain``, ``host:port``, ``*``.
    (``urllib.request`` loads here, only when a proxy is set: it is 10 ms of every start.)"""
    import urllib.request

    bypass: Callable[[str, dict[str, str]], bool] = getattr(  # noqa: B009 (not in typeshed)
        urllib.request, "proxy_bypass_environment")
    return bypass(netloc, proxies)


def environment_proxies(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{"https": URL, "http": URL, "all": URL, "no": "a,b"}`` from the environment, either case
    (lower case wins, as in curl and urllib)."""
    if environ is None:
        if not any(name.lower().endswith("_proxy") for name in os.environ):
            return {}  # what urllib finds then, without loading urllib.request for it
        import urllib.request

        return urllib.request.getproxies_environment()
    found: dict[str, str] = {}
    for lower_case in (False, True):
        for name, value in environ.items():
            if value and name.lower().endswith("_proxy") and (name == name.lower()) == lower_case:
                found[name.lower()[:-6]] = value
    return found


def ssl_context(ca_file: str) -> ssl.SSLContext:
    """System trust (which honours ``SSL_CERT_FILE``) plus the registry's own CA (one clear
    error when that file cannot be read)."""
    return with_ca_file(ca_file)


class Router:
    """Sends each request through the transport for its proxy (if any) and its trust settings
    (to httpx it is a transport: :class:`httpclient.RouterTransport`)."""

    def __init__(self, settings: RegistrySettings, make: MakeTransport, *,
                 environ: Mapping[str, str] | None = None) -> None:
        self._settings = settings
        self._make = make
        self._proxies = environment_proxies(environ)
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._making = threading.Lock()
        """Held while a context is made: :meth:`prepare` may run in another thread."""
        self._transports: dict[tuple[str | None, str | None, bool],
                               httpx.AsyncBaseTransport] = {}
        self._curl: CurlLean | None = None

    def proxy_for(self, url: httpx.URL) -> httpx.Proxy | None:
        """The proxy ``url`` goes through, or ``None`` for a direct connection."""
        if not self._proxies or is_loopback(url.host):
            return None
        netloc = url.netloc.decode("ascii")
        if "no" in self._proxies and _bypass(netloc, self._proxies):
            return None
        value = self._proxies.get(url.scheme) or self._proxies.get("all")
        if not value:
            return None
        return httpx.Proxy(value if "://" in value else f"http://{value}")

    def transport_for(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        proxy = self.proxy_for(url)
        # A TLS route (to the registry or to the proxy) gets its context here: aiohttp's default
        # trusts nothing (see ``trust``); a plain one needs none.
        tls, ca_file = self._route_trust(url, proxy)
        key = (str(proxy.url) if proxy else None, ca_file, tls)
        transport = self._transports.get(key)
        if transport is None:
            context = self._context(ca_file) if tls else None
            transport = self._transports[key] = self._make(context, proxy)
        return transport

    def lean_for(self, scheme: str, netloc: str) -> LeanTransport | None:
        """What carries the small document reads of ``scheme://netloc`` (:mod:`lean`): libcurl
        (:mod:`curl`) on a direct route with the system's trust, the route's aiohttp transport on
        any other (a proxy, a CA file of the registry's own), ``None`` where neither is the
        session's own. ``netloc`` as httpx normalises it; with no proxy set, httpx is not
        needed to tell (an anonymous listing does not load it)."""
        url = httpx.URL(f"{scheme}://{netloc}") if self._proxies else None
        proxy = None if url is None else self.proxy_for(url)
        ca_file = self._ca_file(netloc)
        if proxy is None and (scheme == "http" or not ca_file) and curl_available():
            if self._curl is None:
                from cachetui.store.registry.curl import CurlLean

                self._curl = CurlLean(idle_expiry=self._settings.idle_expiry)
            return self._curl
        transport = self.transport_for(url or httpx.URL(f"{scheme}://{netloc}"))
        return transport if isinstance(transport, LeanTransport) else None

    def _route_trust(self, url: httpx.URL, proxy: httpx.Proxy | None
                     ) -> tuple[bool, str | None]:
        """Whether ``url``'s route uses TLS (to the registry or to its proxy), and its CA file."""
        return url.scheme == "https" or (proxy is not None and proxy.url.scheme == "https"), \
            self._ca_file(url.netloc.decode("ascii"))

    def _ca_file(self, netloc: str) -> str | None:
        """The CA file the registry at ``netloc`` (``host[:port]``) is trusted with, if any."""
        return self._settings.ca_files.get(netloc, self._settings.default_ca_file)

    def _context(self, ca_file: str | None) -> ssl.SSLContext:
        """The route's TLS context, made once per CA file (the system trust, plus the file)."""
        context = self._contexts.get(ca_file or "")
        if context is None:
            with self._making:
                context = self._contexts.get(ca_file or "")
                if context is None:
                    context = self._contexts[ca_file or ""] = (
                        ssl_context(ca_file) if ca_file else trust.system_context())
        return context

    def prepare(self, url: httpx.URL) -> None:
        """Make the TLS context ``url``'s route will use, now: in a thread, the 20-40 ms of
        parsing the system's CA bundle stay off the event loop (the TUI). Thread-safe; a CA
        file that cannot be read is left for the first request to report, as without this."""
        tls, ca_file = self._route_trust(url, self.proxy_for(url))
        if tls:
            with contextlib.suppress(InvalidInput):
                self._context(ca_file)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.transport_for(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        if self._curl is not None:
            await self._curl.aclose()
        transports, self._transports = list(self._transports.values()), {}
        for transport in transports:
            await transport.aclose()

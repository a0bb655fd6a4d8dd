"""The HTTP transport under the registry client: ``httpx-aiohttp`` (aiohttp's C parser), set up for
registries.

``bench/bench_transport.py`` measured it against httpx's own transport and the hand-written
``wire.py`` this replaced: as fast as ``wire.py`` on a listing and on a 1 GiB blob, well ahead of
httpx's (which spent most of a listing's CPU in httpcore and anyio). What is set here:

* one aiohttp session per transport, with no cookie jar (the distribution API sets none), no
  decompression (bodies are content-addressed bytes; see ``transport.refuse_encoding``), no
  connection limit of its own (the client's per-registry semaphore is the limit), and kept-alive
  connections that expire after ``idle_expiry`` seconds;
* aiohttp's exceptions mapped to the httpx ones the retry code understands, by what happened
  (the library maps a reset mid-body to ``ConnectTimeout``);
* response bodies read as they arrive, in the pieces the socket gave (the library's 16 KiB
  ``iter_chunked`` is not needed: the client gathers its own chunks);
* a write timeout, which aiohttp lacks (an upload to a peer that stopped reading hung forever):
  request bodies go out in slices, and no slice taken for ``write`` seconds fails the request;
* :meth:`RegistryTransport.lean`: a body-less request answered by a small document, straight on
  the aiohttp session (no httpx request, response or header objects), for :mod:`lean`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping
from typing import Final

import httpx

from cachetui.store.registry import trust
from cachetui.store.registry.lean_api import LeanAnswer
from cachetui.store.registry.transport import (
    Pace,
    gather_capped,
    paced_pieces,
    refuse_encoded,
)

trust.import_aiohttp()  # before any other import of aiohttp: this module is the only one

import aiohttp  # noqa: E402
from httpx_aiohttp import AiohttpTransport  # noqa: E402

SLICE: Final = 256 * 1024
"""Request bodies are handed to aiohttp in slices this big, so progress is seen while they go."""


def _mapped(exc: BaseException) -> httpx.TransportError:
    """The httpx exception for an aiohttp one (most specific cases first)."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        return httpx.ProxyError(text)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return httpx.ConnectError(f"SSL: {text}")
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text)
    if isinstance(exc, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return httpx.ReadTimeout(text)
    if isinstance(exc, aiohttp.ClientConnectorError):
        # Its own text always says "ssl:default", which would read as a TLS failure.
        reason = exc.os_error.strerror or str(exc.os_error) or type(exc.os_error).__name__
        return httpx.ConnectError(f"{exc.host}:{exc.port}: {reason}")
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError
                  | aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(text)
    if isinstance(exc, aiohttp.InvalidUrlClientError | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(text)
    return httpx.ReadError(text)


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as exc:
        cause = exc.__cause__
        if isinstance(cause, aiohttp.ClientError | asyncio.TimeoutError):
            raise _mapped(cause) from cause
        raise
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise _mapped(exc) from exc


class _Body(httpx.AsyncByteStream):
    """An aiohttp response body, piece by piece as received."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _translated():
            async for piece in self._response.content.iter_any():
                yield piece

    async def aclose(self) -> None:
        with _translated():
            self._response.release()


class _Progress(httpx.AsyncByteStream):
    """A request body in slices; ``last`` is when aiohttp last took one (it takes the next one
    only when the previous one is written out)."""

    def __init__(self, body: AsyncIterable[bytes]) -> None:
        self._body = body
        self.last = asyncio.get_running_loop().time()
        self.done = False
        self.error: BaseException | None = None
        """What the body's source raised (aiohttp would report it as a connection error)."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        try:
            async for part in self._body:
                for start in range(0, len(part), SLICE):
                    self.last = loop.time()
                    yield part[start:start + SLICE]
        except Exception as exc:
            self.error = exc
            raise
        self.last = loop.time()
        self.done = True


def _has_body(request: httpx.Request) -> bool:
    try:
        return bool(request.content)
    except httpx.RequestNotRead:
        return True


class RegistryTransport(AiohttpTransport):
    """``AiohttpTransport`` with the session, exceptions and body reads described above."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, *,
                 proxy: httpx.Proxy | None = None, idle_expiry: float = 15.0) -> None:
        # ``verify`` only feeds the library's default session, which ``client`` replaces: the
        # trust that applies is ``ssl_context`` (or aiohttp's default, verifying) below.
        super().__init__(verify=False, proxy=proxy, trust_env=False, client=self._session)
        self._trust: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self.idle_expiry = idle_expiry
        self._timeouts: dict[tuple[float, float], aiohttp.ClientTimeout] = {}

    async def lean(self, method: str, url: str, headers: Mapping[str, str], *,
                   timeouts: tuple[float, float], limit: int, error_limit: int,
                   pace: Pace | None, where: str, action: str) -> LeanAnswer:
        """``method`` (GET or HEAD) of ``url``, its body read whole: at most ``limit + 1`` bytes
        of a 2xx answer (none if its ``Content-Length`` is over ``limit``; an encoded one is
        refused), ``error_limit`` of any other. Redirects
        are not followed (the caller routes them); errors are httpx's, as from this transport.
        ``timeouts``: connect and stall seconds."""
        session = self.client
        if not isinstance(session, aiohttp.ClientSession):
            session = self.client = self.get_client()
        timeout = self._timeouts.get(timeouts)
        if timeout is None:
            timeout = self._timeouts[timeouts] = aiohttp.ClientTimeout(
                sock_connect=timeouts[0], sock_read=timeouts[1])
        proxy = self.proxy
        with _translated():
            async with session.request(
                    method, url, headers=headers, allow_redirects=False, timeout=timeout,
                    proxy=str(proxy.url) if proxy else None,
                    proxy_auth=aiohttp.BasicAuth(*proxy.auth) if proxy and proxy.auth else None,
                    proxy_headers=proxy.headers if proxy else None) as response:
                status = response.status
                encoded = (response.headers.get("content-encoding") or "identity"
                           ).strip().lower() != "identity"
                if 200 <= status < 300:
                    refuse_encoded(response.headers, status, where=where, action=action)
                elif encoded:  # an error's encoded body is not worth decoding
                    method = "HEAD"
                declared = response.headers.get("content-length") or ""
                if declared.isdigit() and int(declared) > limit and 200 <= status < 300:
                    method = "HEAD"  # over the cap as declared: the caller refuses it unread
                body = b"" if method == "HEAD" else await gather_capped(
                    paced_pieces(response.content.iter_any(), pace),
                    limit if 200 <= status < 300 else error_limit)
                return LeanAnswer(status, response.headers, body)

    def _session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(ssl=self._trust, limit=0,
                                         keepalive_timeout=self.idle_expiry)
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                     auto_decompress=False, trust_env=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        write_timeout = timeouts.get("write")
        if write_timeout is None or not _has_body(request):
            return await self._send(request)
        assert isinstance(request.stream, AsyncIterable)
        progress = _Progress(request.stream)
        sliced = httpx.Request(request.method, request.url, headers=request.headers,
                               stream=progress, extensions=request.extensions)
        loop = asyncio.get_running_loop()
        sending = asyncio.ensure_future(self._send(sliced))
        try:
            while True:
                wait = write_timeout - (loop.time() - progress.last)
                if not progress.done and wait <= 0:
                    raise httpx.WriteTimeout(f"the peer took no request data for "
                                             f"{write_timeout:g} s")
                done, _ = await asyncio.wait({sending}, timeout=None if progress.done
                                             else wait)
                if done:
                    if progress.error is not None and sending.exception() is not None:
                        raise progress.error
                    return sending.result()
        finally:
            if not sending.done():
                sending.cancel()
                await asyncio.gather(sending, return_exceptions=True)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        with _translated():
            response = await super().handle_async_request(request)
        stream = response.stream
        inner = getattr(stream, "_aiohttp_response", None)
        if isinstance(inner, aiohttp.ClientResponse):
            response.stream = _Body(inner)
        return response

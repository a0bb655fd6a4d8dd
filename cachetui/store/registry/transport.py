"""One retrying send, shared by the API client and the token fetcher.

A try is one request plus reading what the caller needs of the body; failures of either are
retried by :func:`attempts` under the session's :class:`RetryPolicy`. Transport failures become
:class:`NetworkError` with a line a user can act on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias, TypeVar

if TYPE_CHECKING:
    import httpx
else:
    from cachetui.store.lazyhttpx import httpx

from cachetui.errors import CachetuiError, NetworkError, RegistryError
from cachetui.store.netreason import network_reason
from cachetui.store.registry.retry import Answer, RetryPolicy, is_retryable_error, is_tls_error

T = TypeVar("T")
Headers: TypeAlias = Mapping[str, str]
"""Response headers, case-insensitive: httpx's or aiohttp's (the lean path)."""


class RetryableStatus(Exception):
    """A 429/502/503/504 answer: try again after the delay the response asks for."""

    def __init__(self, response: Answer, error: CachetuiError) -> None:
        super().__init__(str(error))
        self.response = response
        self.error = error


class ShortBody(Exception):
    """The body ended before its ``Content-Length``: a broken connection in disguise."""


@dataclass(frozen=True, slots=True)
class Pace:
    """The slowest a response body may arrive: ``min_rate`` bytes/s over each ``window`` seconds."""

    min_rate: float
    window: float


def network_error(exc: BaseException, *, where: str, action: str = "") -> NetworkError:
    from cachetui.store.registry.slow import TooSlow  # (loads httpx: only on a failure)

    doing = f"{action}: " if action else ""
    if is_tls_error(exc):
        message = (f"{doing}TLS connection failed: {network_reason(exc)} (trust the registry's CA with "
                   f"--ca-file or ca_file in the config, or mark a plain-HTTP registry with "
                   f"--insecure)")
    elif isinstance(exc, TooSlow):
        message = f"{doing}the registry sends too slowly ({network_reason(exc)})"
    elif isinstance(exc, httpx.ProxyError):
        message = f"{doing}the proxy refused or failed: {network_reason(exc)}"
    elif isinstance(exc, httpx.ConnectTimeout):
        message = f"{doing}timed out connecting"
    elif isinstance(exc, httpx.TimeoutException):
        message = f"{doing}the registry stopped sending or receiving data (timed out)"
    elif isinstance(exc, httpx.ConnectError):
        message = f"{doing}cannot connect: {network_reason(exc)}"
    elif isinstance(exc, ShortBody):
        message = f"{doing}the connection broke mid-response ({network_reason(exc)})"
    else:
        message = f"{doing}the connection broke: {network_reason(exc)}"
    return NetworkError(message, where=where)


async def attempts(op: Callable[[], Awaitable[T]], policy: RetryPolicy, *, where: str,
                   action: str = "") -> T:
    """Run ``op`` until it succeeds, retrying what :mod:`retry` says is transient."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await op()
        except RetryableStatus as retry:
            if attempt >= policy.attempts:
                raise retry.error from None
            await asyncio.sleep(policy.delay(attempt, retry.response))
        except CachetuiError:
            raise  # final; and the clause below would load httpx just to tell (lazyhttpx)
        except (httpx.TransportError, ShortBody) as exc:
            from cachetui.store.registry.slow import TooSlow

            # A drip is not retried here: a document that crawls once crawls again.
            if isinstance(exc, TooSlow) or (isinstance(exc, httpx.TransportError)
                                            and not is_retryable_error(exc)):
                raise network_error(exc, where=where, action=action) from None
            if attempt >= policy.attempts:
                raise network_error(exc, where=where, action=action) from None
            await asyncio.sleep(policy.delay(attempt, None))


async def within(op: Callable[[], Awaitable[T]], seconds: float, *, where: str,
                 action: str) -> T:
    """``op`` under an overall deadline: a peer that answers slowly enough to dodge every
    per-read timeout still cannot hold a small document (manifest, page, token) forever."""
    scope = asyncio.timeout(seconds)
    try:
        async with scope:
            return await op()
    except TimeoutError:
        if scope.expired():
            raise NetworkError(f"{action}: no complete answer within {seconds:g} s (the "
                               f"registry is too slow)", where=where) from None
        raise


def refuse_encoding(response: httpx.Response, *, where: str, action: str) -> None:
    """Bodies are taken as sent (``Accept-Encoding: identity``); an encoded one is refused.

    Manifests and blobs are content-addressed bytes, so there is nothing to gain from decoding,
    and a 64 KB gzip body can inflate to gigabytes before any size check could see it.
    """
    refuse_encoded(response.headers, response.status_code, where=where, action=action)


def refuse_encoded(headers: Headers, status: int, *, where: str, action: str) -> None:
    """:func:`refuse_encoding` for any response's headers (the lean path reads aiohttp's)."""
    encoding = (headers.get("content-encoding") or "").strip().lower()
    if encoding and encoding != "identity":
        doing = f"{action}: " if action else ""
        shown = "".join(c if c.isprintable() else "?" for c in encoding[:40])
        raise RegistryError(f"{doing}the registry sent a {shown}-encoded body although cachetui "
                            f"asks for identity encoding; refusing it", where=where,
                            status=status)


async def paced(response: httpx.Response, pace: Pace | None) -> AsyncIterator[bytes]:
    """The raw body as it arrives, failing with :class:`slow.TooSlow` under ``pace``'s minimum."""
    if response.is_stream_consumed:  # read already (an answer built in memory)
        yield response.content
        return
    async for piece in paced_pieces(response.aiter_raw(), pace):
        yield piece


async def paced_pieces(pieces: AsyncIterator[bytes], pace: Pace | None) -> AsyncIterator[bytes]:
    """``pieces`` as they arrive, failing with :class:`slow.TooSlow` under ``pace``'s minimum.

    Every ``window`` seconds at least ``min_rate * window`` bytes must come, checked on time
    (a deadline, not only when a byte arrives), so a peer that drips one byte a second fails
    after one window instead of never. A window's quota met, the deadline moves a window on.
    The deadline is a timeout around each read, not a task per read: that cost a task and a
    wait per piece, a measurable share of a listing's CPU with thousands of small documents.
    Only a read that is failing anyway is cancelled (a body cut short never looks complete).
    """
    if pace is None:
        async for each in pieces:
            yield each
        return
    loop = asyncio.get_running_loop()
    needed = pace.min_rate * pace.window
    deadline = loop.time() + pace.window
    got = 0
    while True:
        scope = asyncio.timeout_at(deadline)
        try:
            async with scope:
                piece = await anext(pieces, None)
        except TimeoutError:
            if scope.expired():
                from cachetui.store.registry.slow import TooSlow

                raise TooSlow(f"{got} bytes in {pace.window:g} s, under the minimum of "
                              f"{_rate(pace.min_rate)}") from None
            raise
        if piece is None:
            return
        got += len(piece)
        if got >= needed:  # this window is met: the next one must be met in turn
            deadline, got = max(deadline, loop.time()) + pace.window, 0
        yield piece


def _rate(bytes_per_second: float) -> str:
    if bytes_per_second >= 1024:
        return f"{bytes_per_second / 1024:g} KiB/s"
    return f"{bytes_per_second:g} B/s"


async def read_capped(response: httpx.Response, limit: int, pace: Pace | None = None, *,
                      where: str = "", action: str = "") -> bytes:
    """At most ``limit + 1`` bytes of a streamed body (so callers can tell "over the limit").

    Raw bytes only: an encoded body is refused (see :func:`refuse_encoding`).
    """
    refuse_encoding(response, where=where, action=action)
    return await gather_capped(paced(response, pace), limit)


async def gather_capped(pieces: AsyncIterator[bytes], limit: int) -> bytes:
    """At most ``limit + 1`` bytes of ``pieces``, joined."""
    data = bytearray()
    async for piece in pieces:
        data += piece
        if len(data) > limit:
            break
    return bytes(data)


def check_length(response: httpx.Response | Headers, received: int) -> None:
    """A body shorter (or longer) than its ``Content-Length`` is a broken connection."""
    headers = response if isinstance(response, Mapping) else response.headers
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) != received:
        raise ShortBody(f"got {received} of {declared} bytes")

"""One retrying send, shared by the API client and the token fetcher.

A try is one request plus reading what the caller needs of the body; failures of either are
retried by :func:`attempts` under the session's :class:`RetryPolicy`. Transport failures become
:class:`NetworkError` with a line a user can act on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

from cachetui.errors import CachetuiError, NetworkError
from cachetui.store.registry.retry import RetryPolicy, is_retryable_error, is_tls_error

T = TypeVar("T")


class RetryableStatus(Exception):
    """A 429/502/503/504 answer: try again after the delay the response asks for."""

    def __init__(self, response: httpx.Response, error: CachetuiError) -> None:
        super().__init__(str(error))
        self.response = response
        self.error = error


class ShortBody(Exception):
    """The body ended before its ``Content-Length``: a broken connection in disguise."""


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def network_error(exc: BaseException, *, where: str, action: str = "") -> NetworkError:
    doing = f"{action}: " if action else ""
    if is_tls_error(exc):
        message = (f"{doing}TLS connection failed: {_reason(exc)} (trust the registry's CA with "
                   f"--ca-file or ca_file in the config, or mark a plain-HTTP registry with "
                   f"--insecure)")
    elif isinstance(exc, httpx.ConnectTimeout):
        message = f"{doing}timed out connecting"
    elif isinstance(exc, httpx.TimeoutException):
        message = f"{doing}the registry stopped sending or receiving data (timed out)"
    elif isinstance(exc, httpx.ConnectError):
        message = f"{doing}cannot connect: {_reason(exc)}"
    elif isinstance(exc, ShortBody):
        message = f"{doing}the connection broke mid-response ({_reason(exc)})"
    else:
        message = f"{doing}the connection broke: {_reason(exc)}"
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
        except (httpx.TransportError, ShortBody) as exc:
            if isinstance(exc, httpx.TransportError) and not is_retryable_error(exc):
                raise network_error(exc, where=where, action=action) from None
            if attempt >= policy.attempts:
                raise network_error(exc, where=where, action=action) from None
            await asyncio.sleep(policy.delay(attempt, None))


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a streamed body (so callers can tell "over the limit")."""
    data = bytearray()
    async for piece in response.aiter_bytes():
        data += piece
        if len(data) > limit:
            break
    return bytes(data)


def check_length(response: httpx.Response, received: int) -> None:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) != received:
        raise ShortBody(f"got {received} of {declared} bytes")

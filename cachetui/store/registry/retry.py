"""When and how long to wait before trying a registry request again.

Retried: 429, 502, 503, 504 and connection-level failures (refused, reset, timeouts). The wait is
exponential with full jitter, capped, and a ``Retry-After`` from the registry wins (capped too, so a
hostile header cannot park us for a day). Tests shrink the delays through :class:`RetryPolicy`.
"""

from __future__ import annotations

import functools
import random
import ssl
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    import httpx
else:
    from cachetui.store.lazyhttpx import httpx

RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})


class Answer(Protocol):
    """What the retry and error code read of an answer: an httpx response, or a lean read's
    (which is not made into an httpx response for it: httpx loads on first use)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    """Total tries per request (1 = no retry)."""
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Delay before try number ``attempt + 1`` (``attempt`` starts at 1): full jitter."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)

    def delay(self, attempt: int, response: Answer | None) -> float:
        """The wait after a failed try; ``Retry-After`` (seconds or HTTP date) when present."""
        if response is not None:
            after = retry_after(response)
            if after is not None:
                return min(after, self.max_retry_after)
        return self.backoff(attempt)


def retry_after(response: Answer) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils  # (only for a date: it is not loaded on every start)

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def is_retryable_status(status: int) -> bool:
    return status in RETRY_STATUSES


@functools.cache
def retryable_errors() -> tuple[type[Exception], ...]:
    """Transport failures worth another try. TLS verification failures are ``ConnectError`` too,
    and are excluded by :func:`is_retryable_error`. (A function: httpx loads on first use.)"""
    return (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadError, httpx.ReadTimeout,
            httpx.WriteError, httpx.WriteTimeout, httpx.PoolTimeout, httpx.RemoteProtocolError)


def is_retryable_error(exc: BaseException) -> bool:
    if not isinstance(exc, retryable_errors()):
        return False
    return not is_tls_error(exc)


def is_tls_error(exc: BaseException) -> bool:
    """A TLS failure (bad certificate, TLS spoken to a plain-HTTP port): retrying cannot help."""
    aiohttp = sys.modules.get("aiohttp")  # none of its errors can exist before it is loaded
    tls_errors: tuple[type[BaseException], ...] = (ssl.SSLError, ssl.CertificateError)
    if aiohttp is not None:
        tls_errors += (aiohttp.ClientSSLError,)
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, tls_errors):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc).lower()
    return "certificate verify failed" in text or "wrong version number" in text

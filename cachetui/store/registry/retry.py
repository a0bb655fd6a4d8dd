"""When and how long to wait before trying a registry request again.

Retried: 429, 502, 503, 504 and connection-level failures (refused, reset, timeouts). The wait is
exponential with full jitter, capped, and a ``Retry-After`` from the registry wins (capped too, so a
hostile header cannot park us for a day). Tests shrink the delays through :class:`RetryPolicy`.
"""

from __future__ import annotations

import email.utils
import random
import ssl
import sys
import time
from dataclasses import dataclass
from typing import Final

import httpx

RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})


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

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        """The wait after a failed try; ``Retry-After`` (seconds or HTTP date) when present."""
        if response is not None:
            after = retry_after(response)
            if after is not None:
                return min(after, self.max_retry_after)
        return self.backoff(attempt)


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def is_retryable_status(status: int) -> bool:
    return status in RETRY_STATUSES


RETRYABLE_ERRORS: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.ReadTimeout,
    httpx.WriteError,
    httpx.WriteTimeout,
    httpx.PoolTimeout,
    httpx.RemoteProtocolError,
)
"""Transport failures worth another try. TLS verification failures are ``ConnectError`` too, and
are excluded by :func:`is_retryable_error`."""


def is_retryable_error(exc: BaseException) -> bool:
    if not isinstance(exc, RETRYABLE_ERRORS):
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

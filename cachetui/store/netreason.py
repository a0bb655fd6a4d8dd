"""What went wrong on the wire, in a few words, for every HTTP client of the stores.

"cannot reach s3://b: ConnectError" left an operator guessing between a refused port, a name
that does not resolve and a firewall that drops packets; the exception's own text says which
("[Errno 111] Connection refused", "[Errno -2] Name or service not known"). It is folded to one
line and capped; control characters a peer may have put in it are escaped where errors are
shown, like every name from a store.
"""

from __future__ import annotations

import os
from typing import Final

LIMIT: Final = 300


def network_reason(exc: BaseException) -> str:
    """``exc``'s text on one line (at most :data:`LIMIT` characters), or what kind of failure
    it was when it has none (timeouts often have none), with the operating system's reason
    when one lies deeper in the chain (httpx says "All connection attempts failed" for a
    refused port and for an unreachable host alike)."""
    text = " ".join(str(exc).split())
    if not text:
        name = type(exc).__name__
        text = "timed out" if "Timeout" in name else name
    cause = _os_reason(exc)
    if cause and cause.lower() not in text.lower():
        text = f"{text} ({cause})"
    return text if len(text) <= LIMIT else text[:LIMIT - 3] + "..."


def _os_reason(exc: BaseException) -> str | None:
    """What the first ``OSError`` that caused ``exc`` (a few links deep) was about."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            # asyncio words a refused connection "Connect call failed (addr)": the errno says it
            number = current.errno
            return os.strerror(number) if isinstance(number, int) and number > 0 \
                else current.strerror
        current = current.__cause__ or current.__context__
    return None

"""The error of a peer that sends, but too slowly (see :func:`transport.paced_pieces`).

It is an ``httpx.ReadTimeout``, so the httpx path's handling of timeouts applies to it; being one,
it needs httpx, which the lean path does not load (:mod:`cachetui.store.lazyhttpx`). So it lives
here, imported where one is raised or looked for: only when a read fails.
"""

from __future__ import annotations

import httpx


class TooSlow(httpx.ReadTimeout):
    """The peer sends, but slower than the minimum rate: a drip that no stall timeout catches."""

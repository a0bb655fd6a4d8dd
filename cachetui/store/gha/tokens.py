"""What a runtime token allows: its ``ac`` claim lists refs with read (1) and write (2) bits.
BuildKit writes the index under the last scope with the write bit."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cachetui.store.gha.runtime import RuntimeCache


def token_scopes(token: str) -> list[tuple[str, int]]:
    """``[(ref, permission)]`` from the unverified JWT payload; empty when unreadable."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return [(str(item["Scope"]), int(item["Permission"])) for item in json.loads(claims["ac"])]
    except (IndexError, ValueError, KeyError, TypeError):
        return []


def writable_ref(runtime: RuntimeCache) -> str | None:
    ref = None
    for scope, permission in token_scopes(runtime.token_text()):
        if permission & 2:
            ref = scope
    return ref

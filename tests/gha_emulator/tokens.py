"""Actions runtime tokens (JWTs with an ``ac`` claim) as the cache service reads them.

The signature is not checked, as in BuildKit's client; the service does check ``exp``. The ``ac``
claim is a JSON *string* of ``[{"Scope": ref, "Permission": 1 read | 2 write}]``.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass

READ = 1
WRITE = 2


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_runtime_token(scopes: list[tuple[str, int]], *, lifetime: float = 6 * 3600,
                       now: float | None = None) -> str:
    """A runtime token for ``scopes`` (ref, permission bits), valid for ``lifetime`` seconds."""
    issued = int(now if now is not None else time.time())
    ac = json.dumps([{"Scope": ref, "Permission": perm} for ref, perm in scopes])
    payload = {"ac": ac, "iat": issued, "nbf": issued, "exp": int(issued + lifetime)}
    header = {"alg": "RS256", "typ": "JWT"}
    return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()),
                     _b64(b"fake-signature")])


@dataclass(frozen=True, slots=True)
class RuntimeScopes:
    readable: tuple[str, ...]
    """Refs in token order, the writable one first (lookups search it first)."""
    writable: str | None
    """The last scope with the write bit, where new entries go (as BuildKit picks it)."""
    expires: float


def parse_runtime_token(token: str) -> RuntimeScopes | None:
    """The scopes of a runtime token, or ``None`` when it is not one."""
    try:
        payload_b64 = token.split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
        entries = json.loads(payload["ac"])
        expires = float(payload["exp"])
        scopes = [(str(item["Scope"]), int(item["Permission"])) for item in entries]
    except (IndexError, ValueError, KeyError, TypeError):
        return None
    writable = None
    for ref, perm in scopes:
        if perm & WRITE:
            writable = ref
    readable = [ref for ref, perm in scopes if perm & (READ | WRITE)]
    if writable is not None:
        readable = [writable] + [ref for ref in readable if ref != writable]
    return RuntimeScopes(tuple(readable), writable, expires)

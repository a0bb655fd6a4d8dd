"""Registry answers that are errors, turned into cachetui errors with the registry's own words.

Distribution error bodies are ``{"errors":[{"code","message","detail"}]}``; the first entry's code
and message go into the exception. Bodies are read with a small cap, and never echoed whole.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import httpx
else:
    from cachetui.store.lazyhttpx import httpx

from cachetui.errors import AuthError, CachetuiError, NotFound, RegistryError, UnsupportedOperation
from cachetui.store.registry.retry import Answer, retry_after

MAX_ERROR_BODY: Final = 64 * 1024


class RegistryNotFound(NotFound):
    """A 404 from a registry, with its error code (``MANIFEST_UNKNOWN``, ``NAME_UNKNOWN``, ...)."""

    def __init__(self, message: str, *, where: str | None = None, status: int | None = 404,
                 code: str | None = None) -> None:
        self.status = status
        self.code = code
        super().__init__(message, where=where)


class RegistryUnsupported(UnsupportedOperation):
    """The registry refuses an operation it does not offer (deletes disabled, tag delete)."""

    def __init__(self, message: str, *, where: str | None = None, status: int | None = None,
                 code: str | None = None) -> None:
        self.status = status
        self.code = code
        super().__init__(message, where=where)


def error_code_message(body: bytes) -> tuple[str | None, str | None]:
    """The first ``code`` and ``message`` of a distribution error body, if it has one."""
    try:
        data = json.loads(body[:MAX_ERROR_BODY])
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, None
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None, None
    code = errors[0].get("code")
    message = errors[0].get("message")
    return (code if isinstance(code, str) else None,
            message if isinstance(message, str) else None)


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\x1b``): names from a registry are data."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _oneline(text: str, limit: int = 200) -> str:
    text = printable(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


_TLS_PORT: Final = b"HTTP request to an HTTPS server"
"""Go's ``net/http`` body for a plain-HTTP request on a TLS port: "Client sent an HTTP request
to an HTTPS server." (every Go registry: distribution, Harbor, Zot)."""


def from_response(response: Answer, body: bytes, *, where: str,
                  action: str = "") -> CachetuiError:
    """The exception for an error status. ``action`` says what we tried ("delete manifest")."""
    status = response.status_code
    code, message = error_code_message(body)
    detail = _oneline(message) if message else httpx.codes.get_reason_phrase(status) or "error"
    doing = f"{action}: " if action else ""
    shown = f"{doing}{detail} (HTTP {status}{', ' + code if code else ''})"
    if status == 401 or code in ("UNAUTHORIZED", "DENIED") or status == 403:
        return AuthError(_auth_hint(response, shown), where=where, status=status, code=code)
    if status == 404:
        return RegistryNotFound(shown, where=where, status=status, code=code)
    if code == "UNSUPPORTED" or status == 405:
        return RegistryUnsupported(shown, where=where, status=status, code=code)
    if status == 413:
        return RegistryError(f"{doing}too large for the registry (HTTP 413)", where=where,
                             status=status, code=code)
    if status == 400 and _TLS_PORT in body:  # Go's answer to plain HTTP on a TLS listener
        return RegistryError(f"{doing}the registry speaks TLS on this port, and the request "
                             f"was plain HTTP (HTTP 400): drop --insecure / insecure = true for "
                             f"it, or give a loopback registry its ca_file in the config",
                             where=where, status=status, code=code)
    return RegistryError(shown, where=where, status=status, code=code,
                         retry_after=retry_after(response))


def _auth_hint(response: Answer, shown: str) -> str:
    challenge = (response.headers.get("www-authenticate") or "").lower()
    if "insufficient_scope" in challenge:
        return f"{shown}: the credentials do not allow this action"
    if "invalid_token" in challenge:
        return f"{shown}: the registry rejected the token"
    return shown

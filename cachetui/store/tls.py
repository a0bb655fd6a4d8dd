"""What the httpx clients of s3, azblob and gha trust, one TLS context per trust, and a private
CA on top of the system's trust (for registries and object stores alike).

``--ca-file`` and the config's ``ca_file`` name a PEM file of the user's: one that is missing, a
directory or not PEM is their mistake to fix, reported in one line that names the file (it was a
traceback from ``ssl`` for registries).

Making a context parses a CA bundle (certifi's: about 20 ms of CPU), and httpx makes it as a
client is made, so each s3, azblob or gha store made one as it opened: on the TUI's event loop
for a source added later. Such a store names its :class:`Trust` and takes its context from a
:data:`TlsContexts` function; the opener passes one that keeps a context per trust for the
whole run (the workspace's ``shared`` map), which the TUI fills ahead in a thread
(:func:`cachetui.locations.openers.prepare`). Made alone, a store makes its own
(:func:`fresh_context`), as before.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from cachetui.errors import InvalidInput


def with_ca_file(ca_file: str) -> ssl.SSLContext:
    """A verifying client context: the system trust (which honours ``SSL_CERT_FILE``) plus
    ``ca_file``. Raises :class:`InvalidInput` when the file cannot be read as PEM."""
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(f"CA file {ca_file!r} cannot be read as PEM: "
                           f"{exc.strerror or type(exc).__name__}") from None
    return context


@dataclass(frozen=True, slots=True)
class Trust:
    """The certificates an httpx client trusts."""

    ca_file: str | None = None
    """``None``: httpx's default (``SSL_CERT_FILE``, ``SSL_CERT_DIR``, else certifi's bundle),
    exactly what ``verify=True`` makes; a path: the system's trust plus this PEM file."""

    @property
    def key(self) -> str:
        """Its name in the workspace's ``shared`` map."""
        return f"tls-context:ca_file={self.ca_file}" if self.ca_file else "tls-context:default"

    def context(self) -> ssl.SSLContext:
        """A new context; an unreadable CA file is one line (:class:`InvalidInput`)."""
        if not self.ca_file:
            import httpx

            return httpx.create_ssl_context()  # what AsyncClient(verify=True) makes
        return with_ca_file(self.ca_file)


DEFAULT_TRUST: Final = Trust()
"""httpx's default: what the s3 and gha clients trust (neither has a CA setting of its own)."""

TlsContexts = Callable[[Trust], ssl.SSLContext]
"""The context for a trust: made now, or one kept for the run."""


def fresh_context(trust: Trust) -> ssl.SSLContext:
    """A context of its own (a store made outside a workspace)."""
    return trust.context()

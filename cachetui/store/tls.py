"""A private CA on top of the system's trust, for registries and object stores alike.

``--ca-file`` and the config's ``ca_file`` name a PEM file of the user's: one that is missing, a
directory or not PEM is their mistake to fix, reported in one line that names the file (it was a
traceback from ``ssl`` for registries).
"""

from __future__ import annotations

import ssl

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

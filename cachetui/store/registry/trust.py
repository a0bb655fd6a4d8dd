"""TLS trust for registry connections, built when a connection needs it, not when aiohttp loads.

aiohttp builds two default SSL contexts as it is imported, each parsing the system's CA bundle:
about 40 ms of CPU on every registry command's start-up (a sixth of ``ls HOST/REPO``'s, and the
registry sits idle meanwhile), spent even for a plain-HTTP registry that never uses TLS
(``bench/bench_startup.py``, "registry ls"). :func:`import_aiohttp` imports it with both
defaults trusting nothing: its verifying default then fails every handshake (fail closed) and
is never used, because every TLS route gets a context of its own from :mod:`routing`, made on
first use: :func:`system_context` (what aiohttp's default was) or the system trust plus a
``--ca-file``.
"""

from __future__ import annotations

import ssl
import sys
from typing import Any, Final

_PATHS: Final = "set_default_verify_paths"


def _trusting_nothing(*_args: Any, **_kwargs: Any) -> ssl.SSLContext:
    """A verifying client context with no CA loaded: every certificate is refused."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _no_default_paths(_context: ssl.SSLContext) -> None:
    return None


def import_aiohttp() -> None:
    """Import aiohttp without loading the CA bundle for its default contexts (see above).

    Nothing changes when aiohttp is loaded already. ``ssl`` is patched only while its connector
    module runs (one import, at start-up, before any connection), then restored.
    """
    if "aiohttp.connector" in sys.modules:
        return
    create, own = ssl.create_default_context, vars(ssl.SSLContext).get(_PATHS)
    ssl.create_default_context = _trusting_nothing
    setattr(ssl.SSLContext, _PATHS, _no_default_paths)
    try:
        import aiohttp.connector  # noqa: F401
    finally:
        ssl.create_default_context = create
        if own is None:
            delattr(ssl.SSLContext, _PATHS)  # the method of ``_ssl._SSLContext`` shows again
        else:
            setattr(ssl.SSLContext, _PATHS, own)


def system_context() -> ssl.SSLContext:
    """The system's trust (``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` honoured), as aiohttp's
    verifying default had it: hostnames checked, HTTP/1.1 offered by ALPN."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context

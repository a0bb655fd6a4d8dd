"""TLS trust for registry connections, built when a connection needs it, not when aiohttp loads.

aiohttp builds two default SSL contexts as it is imported, each parsing the system's CA bundle:
about 40 ms of CPU on every registry command's start-up (a sixth of ``ls HOST/REPO``'s, and the
registry sits idle meanwhile), spent even for a plain-HTTP registry that never uses TLS
(``bench/bench_startup.py``, "registry ls"). :func:`import_aiohttp` imports it with both
defaults trusting nothing: its verifying default then fails every handshake (fail closed) and
is never used, because every TLS route gets a context of its own from :mod:`routing`, made on
first use (or ahead of it in a thread, by ``RegistrySession.prepare``, for the TUI):
:func:`system_context` (what aiohttp's default was) or the system trust plus a ``--ca-file``.
The patch holds for the importing thread only, so the stack may load in a thread at any time.
"""

from __future__ import annotations

import ssl
import sys
import threading
from typing import Any, Final

_PATHS: Final = "set_default_verify_paths"
_lock: Final = threading.Lock()
"""Held while aiohttp is imported: one patch at a time, always restored in order."""
_importer: int | None = None
"""The thread importing aiohttp under the patch; no other thread sees it."""


def _importing() -> bool:
    return threading.get_ident() == _importer


def import_aiohttp() -> None:
    """Import aiohttp without loading the CA bundle for its default contexts (see above).

    Nothing changes when aiohttp is loaded already. ``ssl`` is patched only while its connector
    module runs, and only for the thread that imports it: a TLS context made meanwhile in any
    other thread (the TUI's event loop, while a source added later loads its registry stack in
    a thread) is made as ``ssl`` makes it. In the importing thread the patch fails closed:
    verifying contexts that trust no certificate.
    """
    global _importer
    if "aiohttp.connector" in sys.modules:
        return
    with _lock:
        if "aiohttp.connector" in sys.modules:
            return
        create, own = ssl.create_default_context, vars(ssl.SSLContext).get(_PATHS)
        paths = getattr(ssl.SSLContext, _PATHS)

        def create_default_context(*args: Any, **kwargs: Any) -> ssl.SSLContext:
            if _importing():  # a verifying client context with no CA: every certificate refused
                return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            return create(*args, **kwargs)

        def set_default_verify_paths(context: ssl.SSLContext) -> None:
            if not _importing():
                paths(context)

        _importer = threading.get_ident()
        ssl.create_default_context = create_default_context
        setattr(ssl.SSLContext, _PATHS, set_default_verify_paths)
        try:
            import aiohttp.connector  # noqa: F401
        finally:
            ssl.create_default_context = create
            if own is None:
                delattr(ssl.SSLContext, _PATHS)  # the method of ``_ssl._SSLContext`` shows again
            else:
                setattr(ssl.SSLContext, _PATHS, own)
            _importer = None


def system_context() -> ssl.SSLContext:
    """The system's trust (``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` honoured), as aiohttp's
    verifying default had it: hostnames checked, HTTP/1.1 offered by ALPN."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context

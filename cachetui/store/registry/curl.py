"""libcurl under the lean document path: a listing's small reads, driven by the asyncio loop.

A listing is two small reads per cache, and on one machine the client's CPU comes out of the
registry's. libcurl's multi interface does the HTTP in C; Python only sees the sockets it waits
on, the header lines and each finished answer. With the first tag page read this way too, an
anonymous listing never loads aiohttp (about 45 ms of start-up). Together they took a 300-cache
``ls`` from 1.66x to 1.48x the curl floor (``bench/bench_inventory.py``; its "pycurl" floor is
``bench/python_floor.py``'s bare loop on this engine). Nor does it load httpx (30 ms more of
start-up), which is loaded on first use (:mod:`cachetui.store.lazyhttpx`).

libcurl is asked for what the aiohttp path does, no more: HTTP/1.1 with kept-alive connections
that expire after ``idle_expiry`` seconds, no redirects followed, no decoding (an encoded 2xx
body is refused unread), no proxy from the environment (the router sends proxied routes to
aiohttp), no cookies, the connect timeout, a stall timeout (under 1 byte/s for the stall
seconds), the minimum rate per window (checked here, on time), and a size cap per answer. The
trust is the system's, as Python's ``ssl`` finds it (``SSL_CERT_FILE`` and ``SSL_CERT_DIR``
honoured); a route with a CA file of its own stays on aiohttp. Failures become the httpx
exceptions the retry code and the error texts know, as :mod:`aio` maps aiohttp's.

The loop drives libcurl through pycurl's own integration (``pycurl.AsyncCurlMulti``, pycurl
7.49): no threads, no polling. Its multi handle is bound to one event loop; reads on another loop
get a new one. Waiting tasks may be cancelled at any time (a deadline, the TUI): the transfer is
taken off the multi handle and its connection closed.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import pycurl

if TYPE_CHECKING:
    import httpx
else:
    from cachetui.store.lazyhttpx import httpx

from cachetui.store.registry.lean_api import LeanAnswer
from cachetui.store.registry.transport import Pace, refuse_encoded

MAX_CONNECTIONS: Final = 64
"""Kept-alive connections libcurl keeps over all hosts (each host's semaphore limits its own)."""
_CONNECT_ERRORS: Final = frozenset({pycurl.E_COULDNT_RESOLVE_HOST, pycurl.E_COULDNT_CONNECT})
_TLS_ERRORS: Final = frozenset({
    pycurl.E_SSL_CONNECT_ERROR, pycurl.E_PEER_FAILED_VERIFICATION, pycurl.E_SSL_CERTPROBLEM,
    pycurl.E_SSL_CIPHER, pycurl.E_SSL_CACERT_BADFILE, pycurl.E_SSL_ISSUER_ERROR,
    pycurl.E_SSL_PINNEDPUBKEYNOTMATCH, pycurl.E_SSL_INVALIDCERTSTATUS,
    pycurl.E_SSL_ENGINE_INITFAILED, pycurl.E_SSL_CRL_BADFILE, pycurl.E_SSL_SHUTDOWN_FAILED,
})
_HEAD_END: Final = (b"\r\n", b"\n")


class CurlHeaders(dict[str, str]):
    """Response headers with lower-case names, looked up in any case; repeats joined by ``, ``."""

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


@dataclass(slots=True)
class _Read:
    """One transfer's state, filled by libcurl's callbacks."""

    head: bool
    limit: int
    error_limit: int
    pace: Pace | None
    status: int = 0
    headers: CurlHeaders = field(default_factory=CurlHeaders)
    lines: list[bytes] = field(default_factory=list)
    """The head's lines as received, parsed once it ends (a call per line costs, a listing has
    thousands)."""
    body: bytearray = field(default_factory=bytearray)
    cap: int = 0
    """The most body bytes kept for this answer (``limit + 1`` for 2xx, else ``error_limit``)."""
    stopped: bool = False
    """The transfer was cut on purpose: the body is whole for the caller's purpose."""
    window_got: int = 0
    pace_timer: asyncio.TimerHandle | None = None
    failure: BaseException | None = None
    abort: Callable[[], object] | None = None
    """Takes the transfer off the multi handle (set once it is added)."""

    def on_header(self, line: bytes) -> int | None:
        if line not in _HEAD_END:
            self.lines.append(line)
            return None
        return self._headers_done()

    def _parse_head(self) -> None:
        status_line, *fields = self.lines
        self.lines = []
        parts = status_line.split(None, 2)
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        headers = self.headers = CurlHeaders()
        for line in fields:
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                key, text = name.strip().lower(), value.strip()
                known = dict.get(headers, key)
                dict.__setitem__(headers, key, text if known is None else f"{known}, {text}")

    def _headers_done(self) -> int | None:
        """What the aiohttp path decides on the headers: whether the body is read, and how far."""
        if not self.lines or not self.lines[0].startswith(b"HTTP/"):
            self.lines = []  # (trailers after a chunked body: not a head)
            return None
        self._parse_head()
        if 100 <= self.status < 200:
            return None  # an interim answer; the real one follows
        ok = 200 <= self.status < 300
        encoded = (dict.get(self.headers, "content-encoding") or "identity").strip().lower() \
            != "identity"
        declared = dict.get(self.headers, "content-length") or ""
        over = ok and declared.isdigit() and int(declared) > self.limit
        self.cap = self.limit + 1 if ok else self.error_limit
        if not self.head and (encoded or over):
            self.stopped = True  # unread: refused (encoded 2xx), over the cap, or not worth it
            return 0
        if self.pace is not None and not self.head:
            self._arm_pace()
        return None

    def on_body(self, data: bytes) -> int | None:
        room = self.cap - len(self.body)
        self.window_got += len(data)
        if len(data) >= room:
            self.body += data[:room]
            self.stopped = True
            return 0  # over the cap: what the caller needs is here (it refuses the rest)
        self.body += data
        return None

    def _arm_pace(self) -> None:
        assert self.pace is not None
        self.window_got = 0
        self.pace_timer = asyncio.get_running_loop().call_later(self.pace.window,
                                                                self._check_pace)

    def _check_pace(self) -> None:
        assert self.pace is not None
        needed = self.pace.min_rate * self.pace.window
        if self.window_got < needed:
            from cachetui.store.registry.slow import TooSlow

            self.failure = TooSlow(f"{self.window_got} bytes in {self.pace.window:g} s, under "
                                   f"the minimum of {self.pace.min_rate:g} bytes/s")
            if self.abort is not None:
                self.abort()
            return
        self._arm_pace()

    def settle(self) -> None:
        if self.pace_timer is not None:
            self.pace_timer.cancel()
            self.pace_timer = None


def _system_trust() -> tuple[str | None, str | None]:
    """The CA file and directory Python's ``ssl`` would load (what ``system_context`` trusts)."""
    paths = ssl.get_default_verify_paths()
    return paths.cafile, paths.capath


class CurlLean:
    """Lean reads (GET or HEAD of a small document) over one libcurl multi handle, driven by
    pycurl's own asyncio integration (:class:`pycurl.AsyncCurlMulti`: the multi-socket API on
    the loop's readers, writers and timers; a cancelled wait takes the transfer off)."""

    def __init__(self, *, idle_expiry: float = 15.0) -> None:
        self.idle_expiry = idle_expiry
        self._multi: pycurl.AsyncCurlMulti | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._free: list[pycurl.Curl] = []
        self._trust = _system_trust()

    def _multi_for(self, loop: asyncio.AbstractEventLoop) -> pycurl.AsyncCurlMulti:
        """The multi handle of this loop (one is bound to the loop that first used it)."""
        if self._multi is None or self._loop is not loop:
            for easy in self._free:  # connections of a loop that is gone are not reused
                easy.close()
            self._free = []
            self._multi = pycurl.AsyncCurlMulti()
            self._multi.setopt(pycurl.M_MAXCONNECTS, MAX_CONNECTIONS)
            self._loop = loop
        return self._multi

    async def aclose(self) -> None:
        if self._multi is not None:
            await self._multi.aclose()
        for easy in self._free:
            easy.close()
        self._free, self._multi, self._loop = [], None, None

    def _easy(self) -> pycurl.Curl:
        if self._free:
            return self._free.pop()
        easy = pycurl.Curl()
        easy.setopt(pycurl.NOSIGNAL, 1)
        easy.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        easy.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        easy.setopt(pycurl.PROXY, "")  # never the environment's: proxied routes go to aiohttp
        easy.setopt(pycurl.MAXAGE_CONN, max(1, int(self.idle_expiry)))
        easy.setopt(pycurl.SSLVERSION, pycurl.SSLVERSION_TLSv1_2)
        cafile, capath = self._trust
        if cafile:
            easy.setopt(pycurl.CAINFO, cafile)
        if capath:
            easy.setopt(pycurl.CAPATH, capath)
        return easy

    async def lean(self, method: str, url: str, headers: Mapping[str, str], *,
                   timeouts: tuple[float, float], limit: int, error_limit: int,
                   pace: Pace | None, where: str, action: str) -> LeanAnswer:
        """As :meth:`aio.RegistryTransport.lean`: ``method`` (GET or HEAD) of ``url``, the body
        read whole up to its cap, redirects not followed, failures as httpx exceptions."""
        loop = asyncio.get_running_loop()
        multi = self._multi_for(loop)
        easy = self._easy()
        head = method == "HEAD"
        read = _Read(head=head, limit=limit, error_limit=error_limit, pace=pace)
        easy.setopt(pycurl.URL, url)
        if head:
            easy.setopt(pycurl.NOBODY, 1)
        else:
            easy.setopt(pycurl.HTTPGET, 1)
        easy.setopt(pycurl.HTTPHEADER, [f"{name}: {value}" for name, value in headers.items()])
        easy.setopt(pycurl.HEADERFUNCTION, read.on_header)
        easy.setopt(pycurl.WRITEFUNCTION, read.on_body)
        easy.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(timeouts[0] * 1000)))
        easy.setopt(pycurl.LOW_SPEED_LIMIT, 1)
        easy.setopt(pycurl.LOW_SPEED_TIME, max(1, round(timeouts[1])))
        transfer = multi.add_handle(easy)
        read.abort = transfer.cancel  # the minimum rate missed: the transfer is taken off
        reusable = False
        try:
            await transfer
            reusable = True
        except pycurl.error as exc:
            errno, message = int(exc.args[0]), str(exc.args[1]) if len(exc.args) > 1 else ""
            # A transfer cut on purpose (cap, refusal) is whole for the caller; a body short
            # of its Content-Length comes back as received, for the caller's length check.
            if not read.stopped and errno != pycurl.E_PARTIAL_FILE:
                error = _mapped(easy, errno, message)
                raise error from error.__cause__  # (an SSLError for a TLS failure)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if read.failure is None or (task is not None and task.cancelling()):
                raise
        finally:
            read.settle()
            easy.setopt(pycurl.HEADERFUNCTION, _ignore)
            easy.setopt(pycurl.WRITEFUNCTION, _ignore)
            if self._multi is multi and (reusable or read.stopped):
                self._free.append(easy)
            else:
                easy.close()  # (a transfer cut short: its connection is closed)
        if read.failure is not None:
            raise read.failure
        if 200 <= read.status < 300:
            refuse_encoded(read.headers, read.status, where=where, action=action)
        return LeanAnswer(read.status, read.headers, bytes(read.body))


def _ignore(data: bytes) -> None:
    """What a resting handle does with data (it has none: it is off the multi handle)."""


def _mapped(easy: pycurl.Curl, errno: int, message: str) -> BaseException:
    """The httpx exception for a libcurl failure, as :func:`aio._mapped` makes them."""
    text = message or f"libcurl error {errno}"
    if errno in _TLS_ERRORS:  # caused by an SSLError, as aiohttp's are: not retried
        error = httpx.ConnectError(f"SSL: {text}")
        error.__cause__ = ssl.SSLError(text)
        return error
    if errno in _CONNECT_ERRORS:
        os_errno = easy.getinfo(pycurl.OS_ERRNO)
        reason = os.strerror(os_errno) if os_errno else text
        host = easy.getinfo(pycurl.EFFECTIVE_URL)
        return httpx.ConnectError(f"{httpx.URL(host).netloc.decode('ascii')}: {reason}")
    if errno == pycurl.E_OPERATION_TIMEDOUT:
        if easy.getinfo(pycurl.CONNECT_TIME) == 0:
            return httpx.ConnectTimeout(text)
        return httpx.ReadTimeout(text)
    if errno == pycurl.E_URL_MALFORMAT:
        return httpx.UnsupportedProtocol(text)
    # (E_UNSUPPORTED_PROTOCOL: the URLs are http(s), so it is the peer's answer, not HTTP/1.x)
    if errno in (pycurl.E_UNSUPPORTED_PROTOCOL, pycurl.E_GOT_NOTHING, pycurl.E_RECV_ERROR,
                 pycurl.E_SEND_ERROR, pycurl.E_FTP_WEIRD_SERVER_REPLY):  # (8: an old name)
        return httpx.RemoteProtocolError(text)
    return httpx.ReadError(text)

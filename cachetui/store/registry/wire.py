"""A lean HTTP/1.1 transport for httpx: an ``asyncio`` protocol plus ``h11``, kept-alive per origin.

httpx's default stack (httpcore over anyio) spent most of a registry listing's CPU in per-request
layers, and read bodies 64 KiB at a time. Here a request is one ``h11`` head parse on a pooled
``asyncio`` connection, and a ``Content-Length`` body is handed over in the pieces the socket gave
(up to 256 KiB, never copied on the way); ``h11`` still frames chunked and close-delimited bodies.
Failures map to the httpx exceptions the retry code already understands. Proxies are not handled
here: the session keeps httpx's own transports for URLs an environment proxy applies to.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator
from typing import Final

import h11
import httpx

READ_SIZE: Final = 1024 * 1024
"""Largest body piece handed over (asyncio's socket reads give at most 256 KiB anyway)."""
BUFFER_LIMIT: Final = 2 * 1024 * 1024
"""Received bytes held per connection before reading from the socket pauses."""
HEAD_READ: Final = 64 * 1024
MAX_HEAD: Final = 100 * 1024
"""Largest response head ``h11`` will buffer (as httpcore)."""

Origin = tuple[str, str, int]


def _keep_alive(event: h11.Request | h11.Response) -> bool:
    """HTTP/1.1 without ``Connection: close`` (what ``h11`` decides, for the direct body path)."""
    if event.http_version < b"1.1":
        return False
    for name, value in event.headers:
        if name == b"connection" and b"close" in [v.strip().lower() for v in value.split(b",")]:
            return False
    return True


class _Connection(asyncio.Protocol):
    """One socket: received ``bytes`` are queued and handed over as they came (no copies).

    ``asyncio.StreamReader`` copies every piece into its buffer and again out of it; for a
    600 MB copy that was two extra passes over the data. Reading pauses above ``BUFFER_LIMIT``.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._pieces: deque[bytes] = deque()
        self._buffered = 0
        self._eof = False
        self._error: BaseException | None = None
        self._paused = False
        self._data_waiter: asyncio.Future[None] | None = None
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._pieces.append(data)
        self._buffered += len(data)
        self._wake()
        if self._buffered > BUFFER_LIMIT and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if exc is not None:
            self._error = exc if isinstance(exc, OSError) else ConnectionResetError(str(exc))
        self._wake()
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(self._error or ConnectionResetError("connection lost"))
            waiter.exception()  # retrieved here when nobody waits any more

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake(self) -> None:
        waiter, self._data_waiter = self._data_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- used by the transport -------------------------------------------------------------
    async def read(self, limit: int) -> bytes:
        """Up to ``limit`` bytes as soon as any are there; ``b""`` at a clean end."""
        while not self._pieces:
            if self._error is not None:
                raise self._error
            if self._eof:
                return b""
            self._data_waiter = asyncio.get_running_loop().create_future()
            await self._data_waiter
        # One received piece (at most 256 KiB from asyncio's socket reads), never joined:
        # the registry client gathers pieces into its own 1 MiB chunks anyway.
        first = self._pieces.popleft()
        if len(first) > limit:
            self._pieces.appendleft(first[limit:])
            first = first[:limit]
        self._buffered -= len(first)
        if self._paused and self._buffered <= BUFFER_LIMIT and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return first

    def write(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("connection closed")
        self.transport.write(data)

    async def drain(self) -> None:
        if self._error is not None:
            raise self._error
        if self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("connection closed")
        if self._write_paused:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            await self._drain_waiter

    def usable(self) -> bool:
        """False when the server closed it (or sent something unasked) while it sat idle."""
        return not (self._eof or self._error is not None or self._pieces
                    or self.transport is None or self.transport.is_closing())

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _Stale(Exception):
    """A reused connection broke before any byte of the answer: send on a fresh one."""

    def __init__(self, error: httpx.TransportError) -> None:
        super().__init__(str(error))
        self.error = error


class WireTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over pooled ``asyncio`` connections; ``ssl_context`` verifies ``https`` origins.

    ``max_connections`` bounds requests in flight (one waits ``pool`` seconds for a slot, then
    :class:`httpx.PoolTimeout`); ``max_idle`` bounds the kept-alive connections per origin. The
    default context is httpx's (certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set).
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None, *,
                 max_connections: int | None = None, max_idle: int = 32) -> None:
        self._ssl_context = ssl_context
        self.max_idle = max_idle
        self._slots = asyncio.Semaphore(max_connections) if max_connections else None
        self._idle: dict[Origin, list[_Connection]] = {}
        self._closed = False

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """Built on first use: loading the trust store costs ~15 ms a plain-HTTP run never needs."""
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context(verify=True, trust_env=True)
        return self._ssl_context

    def idle_connections(self, origin: Origin) -> int:
        """How many kept-alive connections wait for reuse (for tests and diagnostics)."""
        return len(self._idle.get(origin, ()))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        origin = (scheme, url.host, url.port or (443 if scheme == "https" else 80))
        await self._take_slot(timeouts.get("pool"))
        try:
            connection, reused = await self._connection(origin, timeouts.get("connect"))
            try:
                return await self._exchange(origin, connection, reused, request, timeouts)
            except _Stale as stale:
                connection, _ = await self._connection(origin, timeouts.get("connect"), fresh=True)
                try:
                    return await self._exchange(origin, connection, False, request, timeouts)
                except httpx.StreamConsumed:
                    raise stale.error from None
        except BaseException:
            self._give_slot()
            raise

    async def aclose(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    # -- pool -----------------------------------------------------------------------------
    async def _take_slot(self, seconds: float | None) -> None:
        if self._slots is None:
            return
        try:
            async with asyncio.timeout(seconds):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection in time") from None

    def _give_slot(self) -> None:
        if self._slots is not None:
            self._slots.release()

    async def _connection(self, origin: Origin, seconds: float | None, *,
                          fresh: bool = False) -> tuple[_Connection, bool]:
        idle = self._idle.get(origin)
        while idle and not fresh:
            connection = idle.pop()
            if connection.usable():
                return connection, True
            connection.close()
        scheme, host, port = origin
        context = self.ssl_context if scheme == "https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(seconds):
                _, connection = await loop.create_connection(
                    _Connection, host, port, ssl=context,
                    server_hostname=host if context else None)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except (OSError, ssl.CertificateError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return connection, False

    def _release(self, origin: Origin, connection: _Connection, reusable: bool) -> None:
        self._give_slot()
        idle = self._idle.setdefault(origin, [])
        if reusable and not self._closed and len(idle) < self.max_idle and connection.usable():
            idle.append(connection)
        else:
            connection.close()

    # -- one request ------------------------------------------------------------------------
    async def _exchange(self, origin: Origin, connection: _Connection, reused: bool,
                        request: httpx.Request, timeouts: dict[str, float | None]
                        ) -> httpx.Response:
        """Send ``request`` and read the response head; the body streams from the result."""
        state = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        try:
            write_error = await self._send(connection, state, request, timeouts.get("write"))
            try:
                response = await self._read_head(connection, state, timeouts.get("read"), reused)
            except (_Stale, httpx.TransportError) as exc:
                if write_error is None:
                    raise
                if isinstance(exc, _Stale):
                    raise _Stale(write_error) from None
                raise write_error from exc
        except BaseException:
            connection.close()
            raise
        # A server that answered before taking the whole body: read the answer, never reuse.
        body = _ResponseBody(self, origin, connection, state, response, request.method,
                             timeouts.get("read"), reusable=write_error is None)
        return httpx.Response(
            response.status_code, headers=list(response.headers), stream=body,
            extensions={"http_version": b"HTTP/" + response.http_version,
                        "reason_phrase": response.reason})

    async def _send(self, connection: _Connection, state: h11.Connection,
                    request: httpx.Request, seconds: float | None) -> httpx.WriteError | None:
        """Write head and body; a broken pipe is returned (the server may have answered)."""
        writer = connection
        try:
            head = h11.Request(method=request.method, target=request.url.raw_path,
                               headers=list(request.headers.raw))
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        try:
            async with asyncio.timeout(seconds):
                writer.write(state.send(head) or b"")
                stream = request.stream
                assert isinstance(stream, httpx.AsyncByteStream)
                async for part in stream:
                    if part:
                        for piece in state.send_with_data_passthrough(h11.Data(data=part)) or ():
                            writer.write(piece)
                        await writer.drain()
                writer.write(state.send(h11.EndOfMessage()) or b"")
                await writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("timed out sending the request") from None
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        except OSError as exc:
            return httpx.WriteError(str(exc) or type(exc).__name__)
        return None

    async def _read_head(self, connection: _Connection, state: h11.Connection,
                         seconds: float | None, may_retry: bool) -> h11.Response:
        received = False
        while True:
            try:
                event = state.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if isinstance(event, h11.Response):
                return event
            if event is h11.NEED_DATA:
                try:
                    async with asyncio.timeout(seconds):
                        data = await connection.read(HEAD_READ)
                except TimeoutError:
                    raise httpx.ReadTimeout("timed out waiting for the response") from None
                except OSError as exc:
                    error: httpx.TransportError = httpx.ReadError(str(exc) or type(exc).__name__)
                    if may_retry and not received:
                        raise _Stale(error) from exc
                    raise error from exc
                if not data and not received:
                    error = httpx.RemoteProtocolError("Server disconnected without sending a "
                                                      "response.")
                    if may_retry:
                        raise _Stale(error)
                    raise error
                received = True
                state.receive_data(data)
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("Server disconnected in the response head.")
            # InformationalResponse (100 Continue and friends): keep reading


class _ResponseBody(httpx.AsyncByteStream):
    """The body of one response; gives the connection back when it is read to the end.

    A ``Content-Length`` body is read straight from the stream; chunked and close-delimited ones
    go through ``h11``. Closed early, the connection is dropped (unread bytes would poison it).
    """

    def __init__(self, transport: WireTransport, origin: Origin, connection: _Connection,
                 state: h11.Connection, response: h11.Response, method: str,
                 timeout: float | None, *, reusable: bool) -> None:
        self._transport = transport
        self._origin = origin
        self._connection = connection
        self._state = state
        self._timeout = timeout
        self._reusable = reusable and _keep_alive(response)
        self._done = False
        self._buffered, _ = state.trailing_data
        length: int | None = None
        if method == "HEAD" or response.status_code in (204, 304):
            length = 0
        elif not any(name == b"transfer-encoding" for name, _ in response.headers):
            for name, value in response.headers:
                if name == b"content-length":
                    length = int(value)  # h11 has checked it is one decimal number
        self._remaining = length
        if length is not None and len(self._buffered) >= length:
            # Already all here (HEAD, small manifests): the connection goes back at once.
            reusable_now = self._reusable and len(self._buffered) == length
            self._buffered = self._buffered[:length]
            self._remaining = 0
            self._finish(reusable_now)

    def _finish(self, reusable: bool) -> None:
        if not self._done:
            self._done = True
            self._transport._release(self._origin, self._connection, reusable)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            if self._remaining is None:
                async for piece in self._framed():
                    yield piece
                return
            if self._buffered:
                piece, self._buffered = self._buffered, b""
                if not self._done:
                    self._remaining -= len(piece)
                yield piece
            while self._remaining > 0:
                piece = await self._read(min(self._remaining, READ_SIZE))
                if not piece:
                    raise httpx.RemoteProtocolError(
                        "peer closed connection without sending complete message body "
                        f"({self._remaining} bytes missing)")
                self._remaining -= len(piece)
                yield piece
            self._finish(self._reusable)
        except BaseException:
            self._finish(False)
            raise

    async def _framed(self) -> AsyncIterator[bytes]:
        """Chunked or read-until-close bodies, framed by ``h11``."""
        state = self._state
        while True:
            try:
                event = state.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._finish(self._reusable and state.their_state is h11.DONE
                             and not state.trailing_data[0])
                return
            elif event is h11.NEED_DATA:
                state.receive_data(await self._read(READ_SIZE))
            else:
                raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} in a body")

    async def _read(self, size: int) -> bytes:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._connection.read(size)
        except TimeoutError:
            raise httpx.ReadTimeout("timed out reading the response body") from None
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        self._finish(False)

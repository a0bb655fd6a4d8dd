"""The registry's HTTP transport (httpx-aiohttp, see ``store/registry/aio.py``) against scripted
loopback servers and the TLS registry.

Each server here speaks through ``h11`` (server role) or raw bytes, so a test controls exactly
what the wire carries: keep-alive, chunking, early closes, silence.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import h11
import httpx
import pytest

from cachetui.store.registry.aio import RegistryTransport
from tests.registry_procs import RunningRegistry, free_port


@dataclass
class Seen:
    connections: int = 0
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, Seen], Awaitable[None]]


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[tuple[str, Seen]]:
    seen = Seen()

    tasks: set[asyncio.Task[object]] = set()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.connections += 1
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer, seen)
        except (asyncio.CancelledError, ConnectionError):
            pass  # a client hang-up, or the end of the test (3.11 logs a cancelled handler)
        finally:
            writer.close()
            seen.closed.set()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with server:
            yield f"http://127.0.0.1:{port}", seen
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def read_request(reader: asyncio.StreamReader, conn: h11.Connection,
                       seen: Seen) -> bool:
    """One whole request into ``seen``; False when the client hung up instead."""
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None
            headers = {k.decode(): v.decode() for k, v in request.headers}
            seen.requests.append((request.target.decode(), headers, bytes(body)))
            return True
        elif isinstance(event, h11.ConnectionClosed):
            return False


def respond(conn: h11.Connection, writer: asyncio.StreamWriter, body: bytes, *,
            chunked: bool = False, pieces: int = 1) -> None:
    headers = [("Transfer-Encoding", "chunked")] if chunked else [("Content-Length",
                                                                    str(len(body)))]
    writer.write(conn.send(h11.Response(status_code=200, headers=headers)) or b"")
    step = max(1, len(body) // pieces)
    for start in range(0, len(body), step):
        writer.write(conn.send(h11.Data(data=body[start:start + step])) or b"")
    writer.write(conn.send(h11.EndOfMessage()) or b"")
    conn.start_next_cycle()


def echo(chunked: bool = False) -> Handler:
    """Answers every request on the connection with its path (keep-alive)."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      seen: Seen) -> None:
        conn = h11.Connection(h11.SERVER)
        while await read_request(reader, conn, seen):
            target, _, _ = seen.requests[-1]
            respond(conn, writer, f"answer to {target}".encode(), chunked=chunked, pieces=3)
            await writer.drain()
    return handler


async def test_keep_alive_reuses_one_connection() -> None:
    async with serve(echo()) as (base, seen):
        transport = RegistryTransport()
        async with httpx.AsyncClient(transport=transport) as client:
            for i in range(5):
                response = await client.get(f"{base}/n{i}")
                assert response.text == f"answer to /n{i}"
    assert seen.connections == 1
    assert len(seen.requests) == 5


async def test_chunked_response_is_reassembled_and_connection_reused() -> None:
    async with serve(echo(chunked=True)) as (base, seen), \
            httpx.AsyncClient(transport=RegistryTransport()) as client:
        for path in ("/a", "/b"):
            response = await client.get(base + path)
            assert response.content == f"answer to {path}".encode()
            assert response.headers["transfer-encoding"] == "chunked"
    assert seen.connections == 1


async def test_large_body_streams_in_big_pieces_and_is_exact() -> None:
    body = bytes(range(256)) * (12 * 4096 + 7)  # ~12 MiB, not a multiple of anything

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      seen: Seen) -> None:
        conn = h11.Connection(h11.SERVER)
        while await read_request(reader, conn, seen):
            respond(conn, writer, body, pieces=50)
            await writer.drain()

    async with serve(handler) as (base, seen), \
            httpx.AsyncClient(transport=RegistryTransport()) as client:
        async with client.stream("GET", base + "/blob") as response:
            sizes = [len(piece) async for piece in response.aiter_raw()]
        assert sum(sizes) == len(body)
        again = await client.get(base + "/blob")
        assert again.content == body
    assert seen.connections == 1


async def test_early_close_discards_the_connection() -> None:
    body = b"x" * (8 * 1024 * 1024)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      seen: Seen) -> None:
        conn = h11.Connection(h11.SERVER)
        while await read_request(reader, conn, seen):
            respond(conn, writer, body, pieces=8)
            try:
                await writer.drain()
            except ConnectionError:
                return

    async with serve(handler) as (base, seen):
        transport = RegistryTransport()
        async with httpx.AsyncClient(transport=transport) as client:
            async with client.stream("GET", base + "/big") as response:
                async for _ in response.aiter_raw():
                    break  # leave most of the body unread
            await seen.closed.wait()  # the server saw the hang-up
            follow = await client.get(base + "/next")
            assert len(follow.content) == len(body)
    assert seen.connections == 2


async def test_server_closing_an_idle_connection_is_noticed() -> None:
    async def one_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                             seen: Seen) -> None:
        conn = h11.Connection(h11.SERVER)
        if await read_request(reader, conn, seen):
            respond(conn, writer, b"bye")  # keep-alive headers, then the server hangs up
            await writer.drain()

    transport = RegistryTransport()
    async with serve(one_then_close) as (base, seen), httpx.AsyncClient(transport=transport) as client:
        assert (await client.get(base + "/1")).content == b"bye"
        await seen.closed.wait()
        await asyncio.sleep(0.1)  # the FIN reaches the idle connection
        assert (await client.get(base + "/2")).content == b"bye"
    assert seen.connections == 2
    assert [target for target, _, _ in seen.requests] == ["/1", "/2"]


async def test_reused_connection_dropped_before_answer_is_retried_once() -> None:
    async def answer_one_drop_next(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                                   seen: Seen) -> None:
        conn = h11.Connection(h11.SERVER)
        if await read_request(reader, conn, seen):
            respond(conn, writer, b"first")
            await writer.drain()
        await read_request(reader, conn, seen)  # read the next request, close without answer

    async with serve(answer_one_drop_next) as (base, seen), \
            httpx.AsyncClient(transport=RegistryTransport()) as client:
        assert (await client.get(base + "/1")).content == b"first"
        assert (await client.get(base + "/2")).content == b"first"  # on a fresh connection
    assert [target for target, _, _ in seen.requests] == ["/1", "/2", "/2"]
    assert seen.connections == 2


async def test_dropped_connection_is_retried_at_most_once() -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
        await read_request(reader, h11.Connection(h11.SERVER), seen)

    async with serve(drop) as (base, seen), httpx.AsyncClient(transport=RegistryTransport()) as client:
        with pytest.raises(httpx.RemoteProtocolError, match=r"[Dd]isconnected"):
            await client.get(base + "/x")
    # aiohttp tries an idempotent request once more on a connection closed without an answer;
    # beyond that, the caller's retry policy decides.
    assert seen.connections <= 2


async def test_truncated_body_is_a_protocol_error() -> None:
    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    seen: Seen) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"y" * 500)
        await writer.drain()

    async with serve(short) as (base, _), httpx.AsyncClient(transport=RegistryTransport()) as client:
        with pytest.raises(httpx.RemoteProtocolError, match="not completed"):
            await client.get(base + "/short")


async def test_connection_reset_mid_response_is_a_read_error() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    seen: Seen) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"y" * 500)
        await writer.drain()
        sock = writer.get_extra_info("socket")  # now reset (RST, no FIN)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async with serve(reset) as (base, _), httpx.AsyncClient(transport=RegistryTransport()) as client:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):  # both are retried
            await client.get(base + "/reset")  # fails in the head or the body, as the RST lands


async def test_head_and_no_content_have_no_body() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      seen: Seen) -> None:
        conn = h11.Connection(h11.SERVER)
        while await read_request(reader, conn, seen):
            writer.write(conn.send(h11.Response(status_code=200, headers=[
                ("Content-Length", "12345"), ("Docker-Content-Digest", "sha256:abc")])) or b"")
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            conn.start_next_cycle()
            await writer.drain()

    async with serve(handler) as (base, seen), \
            httpx.AsyncClient(transport=RegistryTransport()) as client:
        for _ in range(3):
            response = await client.head(base + "/m")
            assert response.headers["content-length"] == "12345"
            assert response.content == b""
    assert seen.connections == 1


async def test_request_bodies_with_length_and_chunked() -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for part in (b"one,", b"", b"two,", b"three"):
            yield part

    async with serve(echo()) as (base, seen), \
            httpx.AsyncClient(transport=RegistryTransport()) as client:
        await client.put(base + "/bytes", content=b"0123456789")
        await client.put(base + "/stream", content=pieces())
    (_, first_headers, first_body), (_, second_headers, second_body) = seen.requests
    assert first_body == b"0123456789"
    assert first_headers["content-length"] == "10"
    assert second_body == b"one,two,three"
    assert second_headers["transfer-encoding"] == "chunked"
    assert seen.connections == 1


async def test_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     seen: Seen) -> None:
        await reader.read(1)  # returns when the client hangs up
        await reader.read()

    async with serve(silent) as (base, _), httpx.AsyncClient(transport=RegistryTransport()) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(base + "/", timeout=httpx.Timeout(5.0, read=0.1))


async def test_upload_to_a_peer_that_stops_reading_times_out() -> None:
    async def not_reading(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          seen: Seen) -> None:
        await seen.closed.wait()

    async with serve(not_reading) as (base, seen), \
            httpx.AsyncClient(transport=RegistryTransport()) as client:
        with pytest.raises((httpx.WriteTimeout, httpx.ReadTimeout)):
            await client.put(base + "/", content=b"z" * (32 * 1024 * 1024),
                             timeout=httpx.Timeout(5.0, write=0.2, read=0.2))
        seen.closed.set()


async def test_connect_errors() -> None:
    async with httpx.AsyncClient(transport=RegistryTransport()) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{free_port()}/")


async def test_tls_registry(registry_tls: RunningRegistry) -> None:
    assert registry_tls.ca_file is not None
    url = f"https://{registry_tls.host}/v2/"
    trusted = RegistryTransport(ssl.create_default_context(cafile=str(registry_tls.ca_file)))
    async with httpx.AsyncClient(transport=trusted) as client:
        for _ in range(3):
            response = await client.get(url)
            assert response.status_code == 200
    async with httpx.AsyncClient(transport=RegistryTransport()) as client:
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            await client.get(url)


async def test_idle_connections_expire_instead_of_stalling() -> None:
    """A kept-alive connection idle past ``idle_expiry`` is not reused: a NAT that dropped the
    flow silently (here: a server that never answers on it again) would cost a stall."""
    async def answer_once_then_black_hole(reader: asyncio.StreamReader,
                                          writer: asyncio.StreamWriter, seen: Seen) -> None:
        conn = h11.Connection(h11.SERVER)
        if await read_request(reader, conn, seen):
            respond(conn, writer, b"once")
            await writer.drain()
        await seen.closed.wait()  # silence on this connection, never a FIN

    async with serve(answer_once_then_black_hole) as (base, seen), \
            httpx.AsyncClient(transport=RegistryTransport(idle_expiry=0.3),
                              timeout=httpx.Timeout(5.0, read=3.0)) as client:
        assert (await client.get(base + "/1")).content == b"once"
        await asyncio.sleep(0.8)
        async with asyncio.timeout(2.5):  # a reused dead flow would wait the 3 s read timeout
            assert (await client.get(base + "/2")).content == b"once"
        seen.closed.set()
    assert seen.connections == 2

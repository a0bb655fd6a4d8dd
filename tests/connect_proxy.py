"""A tiny HTTP proxy on 127.0.0.1 for tests: ``CONNECT`` tunnels and plain forwarding.

Names are resolved through ``hosts`` only (``registry.test`` → ``127.0.0.1``), so a client that
goes direct instead of through the proxy cannot reach the target at all. ``black_hole_after``
makes a tunnel idle that long stop forwarding without closing, as a NAT that forgot the flow does.
Runs in its own thread with its own event loop, like the hostile registry.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Tunnel:
    target: str
    method: str
    last: float = field(default_factory=time.monotonic)
    dead: bool = False


class ConnectProxy:
    def __init__(self, hosts: dict[str, str], *, black_hole_after: float | None = None) -> None:
        self.hosts = hosts
        self.black_hole_after = black_hole_after
        self.tunnels: list[Tunnel] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ConnectProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _resolve(self, hostport: str) -> tuple[str, int]:
        host, _, port = hostport.rpartition(":")
        return self.hosts[host], int(port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            if method == "CONNECT":
                hostport = target
            else:  # plain forwarding: "GET http://host:port/path HTTP/1.1"
                parts = urlsplit(target)
                hostport = f"{parts.hostname}:{parts.port or 80}"
            try:
                up_reader, up_writer = await asyncio.open_connection(*self._resolve(hostport))
            except (KeyError, OSError):
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            tunnel = Tunnel(hostport, method)
            self.tunnels.append(tunnel)
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                up_writer.write(head)  # Go's server takes absolute-form targets as they are
            await asyncio.gather(self._pipe(reader, up_writer, tunnel),
                                 self._pipe(up_reader, writer, tunnel))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError, ValueError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                    tunnel: Tunnel) -> None:
        try:
            while data := await source.read(65536):
                now = time.monotonic()
                if self.black_hole_after is not None and now - tunnel.last > self.black_hole_after:
                    tunnel.dead = True
                if tunnel.dead:
                    continue  # swallowed: the flow is forgotten, nothing is closed
                tunnel.last = now
                sink.write(data)
                await sink.drain()
        finally:
            if not tunnel.dead:
                sink.close()

"""A tiny HTTP proxy on 127.0.0.1 for tests: ``CONNECT`` tunnels and plain forwarding.

Names are resolved through ``hosts`` only (``registry.test`` → ``127.0.0.1``), so a client that
goes direct instead of through the proxy cannot reach the target at all. ``black_hole_after``
makes a tunnel idle that long stop forwarding without closing, as a NAT that forgot the flow does.
Runs its own event loop in a thread (``tests/loop_thread.py``), like the hostile registry.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.loop_thread import LoopThread


@dataclass
class Tunnel:
    target: str
    method: str
    last: float = field(default_factory=time.monotonic)
    dead: bool = False


class ConnectProxy(LoopThread):
    def __init__(self, hosts: dict[str, str], *, black_hole_after: float | None = None) -> None:
        super().__init__()
        self.hosts = hosts
        self.black_hole_after = black_hole_after
        self.tunnels: list[Tunnel] = []
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve_on(self) -> None:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._servers.append(server)
        self.port = server.sockets[0].getsockname()[1]

    def _resolve(self, hostport: str) -> tuple[str, int]:
        host, _, port = hostport.rpartition(":")
        return self.hosts[host], int(port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = self.track()
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
            self.untrack(task)
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

"""A registry on 127.0.0.1 that misbehaves on purpose, one way per repository (the scenario).

The repository's first path component names the scenario (``drip/app``, ``reset/app``, ...); every
scenario serves the same real BuildKit cache (``buildkit-registry/app-buildcache-max``) under the
tag ``cache`` unless it is about lying. The server speaks raw bytes after ``h11`` has parsed the
request, so it can send what no real server would: wrong lengths and digests, endless or dripping
bodies, gzip bombs, resets mid-body. A second listener (``other``) stands for another host: it
takes redirected blob downloads and token requests and records what it was sent.

It runs its own event loop in a thread (``tests/loop_thread.py``).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
import socket
import struct
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import h11

from tests.fixtures import fixture_dir
from tests.loop_thread import LoopThread

USER: Final = "leakuser"
PASSWORD: Final = "S3cr3t-LEAK-4242-pw"
"""The recognisable secret of the leak check."""
TOKEN: Final = "tok-LEAK-7777-bearer"
TAG: Final = "cache"
BOMB_RATIO: Final = 1000


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Content:
    """The cache every well-behaved answer serves: manifest plus blobs, all in memory."""

    manifest: bytes
    media_type: str
    blobs: dict[str, bytes]

    @property
    def digest(self) -> str:
        return _sha(self.manifest)

    @classmethod
    def load(cls, layout: Path) -> Content:
        index = json.loads((layout / "index.json").read_bytes())
        top = index["manifests"][0]
        manifest = (layout / "blobs" / "sha256" / top["digest"].split(":", 1)[1]).read_bytes()
        body = json.loads(manifest)
        blobs: dict[str, bytes] = {}
        for descriptor in [body["config"], *body.get("layers", [])]:
            digest = descriptor["digest"]
            blobs[digest] = (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()
        return cls(manifest, top["mediaType"], blobs)


@dataclass
class Request:
    listener: str
    method: str
    target: str
    headers: dict[str, str]


@dataclass
class Seen:
    requests: list[Request] = field(default_factory=list)

    def on(self, listener: str) -> list[Request]:
        return [r for r in self.requests if r.listener == listener]


Writer = asyncio.StreamWriter
Handler = Callable[[Request, Writer], Awaitable[bool]]
"""Writes the answer; returns whether the connection may be kept alive."""


def head(status: int, headers: dict[str, str] | list[tuple[str, str]]) -> bytes:
    items = headers.items() if isinstance(headers, dict) else headers
    lines = [f"HTTP/1.1 {status} {'OK' if status < 300 else 'Status'}"]
    lines += [f"{name}: {value}" for name, value in items]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def reply(writer: Writer, status: int, body: bytes = b"", **extra: str) -> bool:
    headers = {"Content-Length": str(len(body)), "Content-Type": "application/json"}
    headers.update({name.replace("_", "-"): value for name, value in extra.items()})
    writer.write(head(status, headers) + body)
    return True


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message}]}).encode()


def reset(writer: Writer) -> bool:
    """Close with RST (no FIN), as a dropped connection does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    return False


def gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes, gzipped (about ``size / BOMB_RATIO`` bytes on the wire)."""
    out = gzip.compress(b"\0" * min(size, 64 * 1024 * 1024), compresslevel=9)
    return out


class HostileRegistry(LoopThread):
    """Start with :meth:`start`; ``host`` is ``127.0.0.1:PORT``; ``other`` the second listener."""

    def __init__(self) -> None:
        super().__init__()
        self.content = Content.load(fixture_dir("buildkit-registry", "app-buildcache-max"))
        self.seen = Seen()
        self.hits: Counter[str] = Counter()
        self.port = 0
        self.other_port = 0
        self.drip_interval = 0.2
        self.bomb = gzip_bomb(BOMB_RATIO * 64 * 1024)  # made once, outside any memory check

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def other(self) -> str:
        return f"127.0.0.1:{self.other_port}"

    async def serve_on(self) -> None:
        main = await asyncio.start_server(lambda r, w: self._serve(r, w, "main"), "127.0.0.1", 0)
        other = await asyncio.start_server(lambda r, w: self._serve(r, w, "other"),
                                           "127.0.0.1", 0)
        self._servers = [main, other]
        self.port = main.sockets[0].getsockname()[1]
        self.other_port = other.sockets[0].getsockname()[1]

    # -- connection handling ----------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: Writer, listener: str) -> None:
        task = self.track()
        leftover = b""
        try:
            while True:
                parsed = await self._read_request(reader, leftover, listener)
                if parsed is None:
                    return
                request, leftover = parsed
                self.seen.requests.append(request)
                keep = await self._dispatch(request, writer)
                if not keep or writer.is_closing():
                    return
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError, h11.RemoteProtocolError):
            pass

        finally:
            self.untrack(task)
            if not writer.is_closing():
                writer.close()

    async def _read_request(self, reader: asyncio.StreamReader, leftover: bytes,
                            listener: str) -> tuple[Request, bytes] | None:
        conn = h11.Connection(h11.SERVER)
        if leftover:  # (b"" would mean end of stream to h11)
            conn.receive_data(leftover)
        found: h11.Request | None = None
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                if not data and found is None:
                    return None
            elif isinstance(event, h11.Request):
                found = event
            elif isinstance(event, h11.EndOfMessage):
                assert found is not None
                headers = {k.decode().lower(): v.decode("latin-1") for k, v in found.headers}
                request = Request(listener, found.method.decode(), found.target.decode("latin-1"),
                                  headers)
                return request, conn.trailing_data[0]
            elif isinstance(event, h11.ConnectionClosed):
                return None

    async def _dispatch(self, request: Request, writer: Writer) -> bool:
        if request.listener == "other":
            return await self._other(request, writer)
        path = request.target.split("?", 1)[0]
        if path == "/v2/" or path == "/v2":
            return reply(writer, 200, b"{}")
        if path == "/v2/_catalog":  # a well-behaved repository and one named with escapes
            names = ["good/app", "ctrl/evil\x1b[2J\x07"]
            return reply(writer, 200, json.dumps({"repositories": names}).encode())
        if not path.startswith("/v2/"):
            return reply(writer, 404, error_body("NOT_FOUND", "no such path"))
        rest = path[4:]
        for kind in ("/tags/list", "/manifests/", "/blobs/"):
            repo, sep, ref = rest.partition(kind)
            if sep:
                scenario = repo.split("/", 1)[0]
                handler = getattr(self, "s_" + scenario.replace("-", "_"), None)
                if handler is None:
                    return reply(writer, 404, error_body("NAME_UNKNOWN", "no such scenario"))
                answer: bool = await handler(request, writer, kind, ref, repo)
                return answer
        return reply(writer, 404, error_body("NOT_FOUND", "no such path"))

    # -- well-behaved pieces -------------------------------------------------------------------
    def tags(self, writer: Writer, repo: str, names: list[str], link: str | None = None) -> bool:
        body = json.dumps({"name": repo, "tags": names}).encode()
        extra = {"Link": f'<{link}>; rel="next"'} if link else {}
        return reply(writer, 200, body, **extra)

    def manifest(self, request: Request, writer: Writer, raw: bytes | None = None,
                 media_type: str | None = None, **extra: str) -> bool:
        raw = self.content.manifest if raw is None else raw
        headers = {"Content-Length": str(len(raw)),
                   "Content-Type": media_type or self.content.media_type,
                   "Docker-Content-Digest": _sha(raw)}
        headers.update({name.replace("_", "-"): value for name, value in extra.items()})
        writer.write(head(200, headers) + (b"" if request.method == "HEAD" else raw))
        return True

    def blob(self, request: Request, writer: Writer, digest: str) -> bool:
        data = self.content.blobs.get(digest)
        if data is None:
            return reply(writer, 404, error_body("BLOB_UNKNOWN", "blob unknown"))
        start = 0
        status = 200
        headers = {"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest}
        ranged = request.headers.get("range", "")
        if ranged.startswith("bytes="):
            start = int(ranged[6:].split("-", 1)[0])
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        headers["Content-Length"] = str(len(body))
        writer.write(head(status, headers) + (b"" if request.method == "HEAD" else body))
        return True

    def normal(self, request: Request, writer: Writer, kind: str, ref: str, repo: str) -> bool:
        if kind == "/tags/list":
            return self.tags(writer, repo, [TAG])
        if kind == "/manifests/":
            if ref not in (TAG, self.content.digest):
                return reply(writer, 404, error_body("MANIFEST_UNKNOWN", "manifest unknown"))
            return self.manifest(request, writer)
        return self.blob(request, writer, ref)

    def first_times(self, key: str, times: int) -> bool:
        self.hits[key] += 1
        return self.hits[key] <= times

    # -- scenarios -----------------------------------------------------------------------------
    async def s_good(self, request: Request, writer: Writer, kind: str, ref: str,
                     repo: str) -> bool:
        return self.normal(request, writer, kind, ref, repo)

    async def s_burst(self, request: Request, writer: Writer, kind: str, ref: str,
                      repo: str) -> bool:
        """429 and 503 answers (Retry-After: 0) twice for every path, then the truth."""
        key = f"{repo}{kind}{ref}{request.method}"
        if self.first_times(key, 2):
            status = 429 if self.hits[key] == 1 else 503
            return reply(writer, status, error_body("TOOMANYREQUESTS", "slow down"),
                         Retry_After="0")
        return self.normal(request, writer, kind, ref, repo)

    async def s_reset(self, request: Request, writer: Writer, kind: str, ref: str,
                      repo: str) -> bool:
        """Blobs: the first answer stops halfway with a reset; ``Range`` resumes."""
        data = self.content.blobs.get(ref)
        if kind == "/blobs/" and data is not None and request.method == "GET" \
                and "range" not in request.headers and self.first_times(repo + ref, 1):
            writer.write(head(200, {"Content-Length": str(len(data))}) + data[: len(data) // 2])
            await writer.drain()
            return reset(writer)
        return self.normal(request, writer, kind, ref, repo)

    async def s_endless(self, request: Request, writer: Writer, kind: str, ref: str,
                        repo: str) -> bool:
        """Manifests and blobs: chunked bodies that never end."""
        if kind == "/tags/list" or request.method == "HEAD":
            return self.normal(request, writer, kind, ref, repo)
        writer.write(head(200, {"Transfer-Encoding": "chunked",
                                "Content-Type": self.content.media_type}))
        piece = b"x" * 65536
        chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        while True:
            writer.write(chunk)
            await writer.drain()

    async def s_drip(self, request: Request, writer: Writer, kind: str, ref: str,
                     repo: str) -> bool:
        """Tag lists, manifests and blobs: the right bytes, one every ``drip_interval``."""
        if request.method == "HEAD":
            return self.normal(request, writer, kind, ref, repo)
        if kind == "/tags/list":
            body = json.dumps({"name": repo, "tags": [TAG]}).encode()
        elif kind == "/manifests/":
            body = self.content.manifest
        else:
            body = self.content.blobs.get(ref, b"")
        writer.write(head(200, {"Content-Length": str(len(body)),
                                "Content-Type": self.content.media_type}))
        for i in range(len(body)):
            writer.write(body[i:i + 1])
            await writer.drain()
            await asyncio.sleep(self.drip_interval)
        return True

    async def s_oversized(self, request: Request, writer: Writer, kind: str, ref: str,
                          repo: str) -> bool:
        """A 5 MiB manifest (over the 4 MiB limit), with its honest length and digest."""
        if kind == "/manifests/":
            raw = self.content.manifest[:-1] + b', "pad": "' + b"p" * (5 << 20) + b'"}'
            return self.manifest(request, writer, raw)
        return self.normal(request, writer, kind, ref, repo)

    async def s_lying_length(self, request: Request, writer: Writer, kind: str, ref: str,
                             repo: str) -> bool:
        """Content-Length says more than is sent, then the connection closes."""
        if request.method == "GET" and kind in ("/manifests/", "/blobs/"):
            body = self.content.manifest if kind == "/manifests/" else self.content.blobs.get(
                ref, b"")
            writer.write(head(200, {"Content-Length": str(len(body) + 100),
                                    "Content-Type": self.content.media_type}) + body)
            await writer.drain()
            return False
        return self.normal(request, writer, kind, ref, repo)

    async def s_lying_digest(self, request: Request, writer: Writer, kind: str, ref: str,
                             repo: str) -> bool:
        """Docker-Content-Digest names other bytes."""
        if kind == "/manifests/":
            return self.manifest(request, writer, Docker_Content_Digest=_sha(b"other bytes"))
        return self.normal(request, writer, kind, ref, repo)

    async def s_encoded(self, request: Request, writer: Writer, kind: str, ref: str,
                        repo: str) -> bool:
        """Manifests and blobs sent as gzip bombs (Content-Encoding: gzip), whatever was asked."""
        if request.method == "GET" and kind in ("/manifests/", "/blobs/"):
            body = self.bomb
            writer.write(head(200, {"Content-Length": str(len(body)), "Content-Encoding": "gzip",
                                    "Content-Type": self.content.media_type}) + body)
            return True
        return self.normal(request, writer, kind, ref, repo)

    async def s_nested(self, request: Request, writer: Writer, kind: str, ref: str,
                       repo: str) -> bool:
        """A manifest of deeply nested JSON, with a correct digest and length."""
        if kind == "/manifests/":
            raw = b'{"schemaVersion": 2, "config": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
            return self.manifest(request, writer, raw)
        return self.normal(request, writer, kind, ref, repo)

    async def s_ctrl(self, request: Request, writer: Writer, kind: str, ref: str,
                     repo: str) -> bool:
        """Tag names with control characters (escape sequences, BEL) beside a good one."""
        if kind == "/tags/list":
            return self.tags(writer, repo, [TAG, "evil\x1b[2J\x1b]0;pwned\x07", "bell\x07"])
        return self.normal(request, writer, kind, ref, repo)

    async def s_loop(self, request: Request, writer: Writer, kind: str, ref: str,
                     repo: str) -> bool:
        """Tag pages: page a links to b, b links back to a."""
        if kind == "/tags/list":
            if "last=a" in request.target:
                return self.tags(writer, repo, ["b"], f"/v2/{repo}/tags/list?last=b")
            return self.tags(writer, repo, [TAG], f"/v2/{repo}/tags/list?last=a")
        return self.normal(request, writer, kind, ref, repo)

    async def s_repeat(self, request: Request, writer: Writer, kind: str, ref: str,
                       repo: str) -> bool:
        """Tag pages: every page the same names, each linking to a new URL."""
        if kind == "/tags/list":
            self.hits[repo] += 1
            return self.tags(writer, repo, [TAG], f"/v2/{repo}/tags/list?page={self.hits[repo]}")
        return self.normal(request, writer, kind, ref, repo)

    async def s_endlesspages(self, request: Request, writer: Writer, kind: str, ref: str,
                             repo: str) -> bool:
        """Tag pages: every page new names and a link to yet another page."""
        if kind == "/tags/list":
            self.hits[repo] += 1
            n = self.hits[repo]
            return self.tags(writer, repo, [f"t{n}"], f"/v2/{repo}/tags/list?page={n}")
        return self.normal(request, writer, kind, ref, repo)

    async def s_redirect(self, request: Request, writer: Writer, kind: str, ref: str,
                         repo: str) -> bool:
        """Basic auth everywhere; blobs redirect to the other listener (another port)."""
        if request.headers.get("authorization") != basic():
            return reply(writer, 401, error_body("UNAUTHORIZED", "auth"),
                         WWW_Authenticate='Basic realm="hostile"')
        if kind == "/blobs/" and request.method == "GET":
            return reply(writer, 307, b"", Location=f"http://{self.other}/storage/{ref}")
        return self.normal(request, writer, kind, ref, repo)

    async def s_echo(self, request: Request, writer: Writer, kind: str, ref: str,
                     repo: str) -> bool:
        """Basic auth; then every answer is a 500 quoting the request's credentials."""
        given = request.headers.get("authorization")
        if given is None:
            return reply(writer, 401, error_body("UNAUTHORIZED", "authentication required"),
                         WWW_Authenticate='Basic realm="hostile"')
        message = (f"internal error handling request with Authorization: {given} "
                   f"(user {USER}, password {PASSWORD})")
        return reply(writer, 500, error_body("UNKNOWN", message))

    async def s_realmhttp(self, request: Request, writer: Writer, kind: str, ref: str,
                          repo: str) -> bool:
        """Bearer, with a plain-HTTP token realm on another host name (localhost, other port)."""
        return self._bearer(request, writer, kind, ref, repo,
                            f"http://localhost:{self.other_port}/token")

    async def s_realmftp(self, request: Request, writer: Writer, kind: str, ref: str,
                         repo: str) -> bool:
        """Bearer, with a token realm in a scheme no HTTP client speaks."""
        return self._bearer(request, writer, kind, ref, repo, "ftp://127.0.0.1/token")

    def _bearer(self, request: Request, writer: Writer, kind: str, ref: str, repo: str,
                realm: str) -> bool:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            challenge = f'Bearer realm="{realm}",service="hostile",scope="repository:{repo}:pull"'
            return reply(writer, 401, error_body("UNAUTHORIZED", "token required"),
                         WWW_Authenticate=challenge)
        return self.normal(request, writer, kind, ref, repo)

    async def _other(self, request: Request, writer: Writer) -> bool:
        """The other host: redirected blob downloads and a token server that echoes."""
        path = request.target.split("?", 1)[0]
        if path.startswith("/storage/"):
            data = self.content.blobs.get(path.rsplit("/", 1)[1])
            if data is None:
                return reply(writer, 404)
            writer.write(head(200, {"Content-Length": str(len(data))}) + data)
            return True
        if path == "/token":
            return reply(writer, 200, json.dumps({"token": TOKEN, "expires_in": 300}).encode())
        return reply(writer, 404)


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def docker_config(directory: Path, host: str) -> Path:
    """A docker ``config.json`` holding the leak-check secret for ``host``."""
    directory.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (directory / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return directory


def secret_forms() -> list[str]:
    """Every form the leak check looks for: the password, the token, their base64."""
    forms = [PASSWORD, TOKEN, basic().split(" ", 1)[1],
             base64.b64encode(PASSWORD.encode()).decode(),
             base64.b64encode(TOKEN.encode()).decode()]
    return forms

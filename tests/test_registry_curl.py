"""libcurl under the lean reads (``store/registry/curl.py``) against scripted loopback servers
and the TLS registry: what the aiohttp engine does, it does (keep-alive, caps, refusals,
timeouts, the minimum rate, cancellation), and failures are the same httpx exceptions."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import h11
import httpx
import pytest

from cachetui.errors import RegistryError
from cachetui.store.registry import RegistrySettings, lean_api, routing
from cachetui.store.registry.aio import RegistryTransport
from cachetui.store.registry.curl import CurlLean
from cachetui.store.registry.retry import is_tls_error
from cachetui.store.registry.routing import Router
from cachetui.store.registry.slow import TooSlow
from cachetui.store.registry.transport import Pace
from tests.fixtures import REPO_ROOT
from tests.registry_procs import RunningRegistry, free_port
from tests.registry_server import unique_repo
from tests.test_http_transport import Handler, Seen, echo, read_request, serve
from tests.test_registry_inventory import _fill

TIMEOUTS = (5.0, 5.0)


@pytest.fixture
async def curl() -> AsyncIterator[CurlLean]:
    engine = CurlLean(idle_expiry=15)
    yield engine
    await engine.aclose()


async def get(engine: CurlLean, url: str, *, limit: int = 1 << 20, method: str = "GET",
              timeouts: tuple[float, float] = TIMEOUTS, pace: Pace | None = None
              ) -> tuple[int, dict[str, str], bytes]:
    answer = await engine.lean(method, url, {"User-Agent": "cachetui"}, timeouts=timeouts,
                               limit=limit, error_limit=64, pace=pace, where="here",
                               action="get")
    return answer.status, dict(answer.headers), answer.body


def raw(status: int, headers: list[tuple[str, str]], body: bytes, *, send: int | None = None
        ) -> Handler:
    """A handler answering every request with these bytes (``send``: cut the body there)."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      seen: Seen) -> None:
        conn = h11.Connection(h11.SERVER)
        while await read_request(reader, conn, seen):
            head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
            writer.write(head.encode() + b"\r\n" + body[:send])
            await writer.drain()
            if send is not None:
                return
            conn.start_next_cycle()
    return handler


async def test_reads_keep_one_connection_alive(curl: CurlLean) -> None:
    async with serve(echo(chunked=True)) as (base, seen):
        for i in range(5):
            status, headers, body = await get(curl, f"{base}/n{i}")
            assert (status, body) == (200, f"answer to /n{i}".encode())
            assert headers["transfer-encoding"] == "chunked"
    assert seen.connections == 1
    assert all(sent["user-agent"] == "cachetui" for _, sent, _ in seen.requests)


async def test_headers_are_looked_up_in_any_case_and_head_has_no_body(curl: CurlLean) -> None:
    async with serve(raw(200, [("Docker-Content-Digest", "sha256:ab"), ("Content-Length", "5")],
                         b"")) as (base, _):
        answer = await curl.lean("HEAD", base + "/", {}, timeouts=TIMEOUTS, limit=0,
                                 error_limit=64, pace=None, where="here", action="get")
    assert answer.headers.get("docker-content-digest") == "sha256:ab"
    assert answer.headers["Content-Length"] == "5" and answer.body == b""


async def test_a_body_over_the_cap_is_cut_and_a_declared_one_unread(curl: CurlLean) -> None:
    async with serve(echo(chunked=True)) as (base, _):  # no Content-Length: read to the cap
        status, _, body = await get(curl, f"{base}/{'x' * 100}", limit=10)
    assert status == 200 and len(body) == 11  # limit + 1: the caller refuses it
    async with serve(raw(200, [("Content-Length", "1000000")], b"y" * 1000000)) as (base, _):
        _, headers, body = await get(curl, base + "/", limit=10)
    assert body == b"" and headers["content-length"] == "1000000"


async def test_an_error_body_is_capped(curl: CurlLean) -> None:
    async with serve(raw(404, [("Content-Length", "5000")], b"e" * 5000)) as (base, _):
        status, _, body = await get(curl, base + "/")
    assert status == 404 and len(body) == 64


async def test_an_encoded_body_is_refused_unread(curl: CurlLean) -> None:
    async with serve(raw(200, [("Content-Encoding", "gzip"), ("Content-Length", "4")],
                         b"\x1f\x8b\x08\x00")) as (base, _):
        with pytest.raises(RegistryError, match="gzip-encoded body"):
            await get(curl, base + "/")


async def test_a_truncated_body_comes_back_short(curl: CurlLean) -> None:
    """As received: the lean reader's length check names it (``ShortBody``)."""
    async with serve(raw(200, [("Content-Length", "100")], b"z" * 100, send=40)) as (base, _):
        status, headers, body = await get(curl, base + "/")
    assert status == 200 and headers["content-length"] == "100" and body == b"z" * 40


async def test_an_endless_head_fails_soon_with_bounded_memory(curl: CurlLean) -> None:
    """A peer that sends header lines forever: libcurl caps a head's size, so the read fails
    in well under a second with a protocol error, holding at most that cap."""
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      seen: Seen) -> None:
        await read_request(reader, h11.Connection(h11.SERVER), seen)
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for n in range(1_000_000):
            writer.write(b"X-Filler-%d: %s\r\n" % (n, b"f" * 200))
            await writer.drain()

    async with serve(endless) as (base, _):
        started = time.monotonic()
        with pytest.raises(httpx.TransportError):
            await get(curl, base + "/")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("answer", [b"SSH-2.0-OpenSSH_9.6\r\n", b"\x00\xff\x1b[31mgarbage\r\n\r\n"])
async def test_an_answer_that_is_not_http_is_a_protocol_error(curl: CurlLean,
                                                             answer: bytes) -> None:
    async def not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       seen: Seen) -> None:
        await read_request(reader, h11.Connection(h11.SERVER), seen)
        writer.write(answer)
        await writer.drain()

    async with serve(not_http) as (base, _):
        with pytest.raises(httpx.RemoteProtocolError) as caught:  # as aiohttp's BadStatusLine
            await get(curl, base + "/", timeouts=(5.0, 2.0))
    assert str(caught.value).isprintable()


async def test_a_silent_peer_times_out(curl: CurlLean) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     seen: Seen) -> None:
        await reader.read()

    async with serve(silent) as (base, _):
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await get(curl, base + "/", timeouts=(5.0, 1.0))
    assert time.monotonic() - started < 4


async def test_a_drip_under_the_minimum_rate_fails(curl: CurlLean) -> None:
    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   seen: Seen) -> None:
        conn = h11.Connection(h11.SERVER)
        await read_request(reader, conn, seen)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):
            writer.write(b"d")
            await writer.drain()
            await asyncio.sleep(0.1)

    async with serve(drip) as (base, _):
        started = time.monotonic()
        with pytest.raises(TooSlow, match="under the minimum"):
            await get(curl, base + "/", pace=Pace(min_rate=100, window=0.5))
    assert time.monotonic() - started < 3


async def test_connect_failures_name_the_address(curl: CurlLean) -> None:
    port = free_port()
    with pytest.raises(httpx.ConnectError, match=f"127.0.0.1:{port}: Connection refused"):
        await get(curl, f"http://127.0.0.1:{port}/")


async def test_a_cancelled_read_closes_its_connection_and_the_next_read_works(
        curl: CurlLean) -> None:
    async def first_silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           seen: Seen) -> None:
        if seen.connections == 1:
            await reader.read()
            return
        await echo()(reader, writer, seen)

    async with serve(first_silent) as (base, seen):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(get(curl, base + "/hung"), 0.3)
        await asyncio.wait_for(seen.closed.wait(), 5)  # the hung connection was closed
        status, _, body = await get(curl, base + "/next")
    assert (status, body) == (200, b"answer to /next")


async def test_idle_connections_expire(curl: CurlLean) -> None:
    engine = CurlLean(idle_expiry=1)
    try:
        async with serve(echo()) as (base, seen):
            await get(engine, base + "/a")
            await asyncio.sleep(1.5)
            await get(engine, base + "/b")
        assert seen.connections == 2
    finally:
        await engine.aclose()


async def test_tls_with_the_system_trust(registry_tls: RunningRegistry,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The trust is Python's (``SSL_CERT_FILE`` honoured); an unknown CA is a TLS error, which
    is not retried."""
    assert registry_tls.ca_file is not None
    url = f"https://{registry_tls.host}/v2/"
    untrusting = CurlLean()
    try:
        with pytest.raises(httpx.ConnectError) as caught:
            await get(untrusting, url)
        assert is_tls_error(caught.value)
    finally:
        await untrusting.aclose()
    monkeypatch.setenv("SSL_CERT_FILE", str(registry_tls.ca_file))
    trusting = CurlLean()
    try:
        for _ in range(2):
            assert (await get(trusting, url))[0] == 200
    finally:
        await trusting.aclose()


def test_routes_with_a_proxy_or_a_ca_file_of_their_own_stay_on_aiohttp() -> None:
    a_pem = ssl.get_default_verify_paths().cafile or ""  # any readable PEM file
    settings = RegistrySettings(ca_files={"private.example:5000": a_pem})
    router = Router(settings, lambda context, proxy: RegistryTransport(context, proxy=proxy),
                    environ={"https_proxy": "http://proxy.example:3128", "no_proxy": "direct.example"})
    assert isinstance(router.lean_for("https", "direct.example"), CurlLean)
    assert isinstance(router.lean_for("http", "127.0.0.1:5000"), CurlLean)
    assert isinstance(router.lean_for("https", "proxied.example"), RegistryTransport)
    direct = Router(settings, lambda context, proxy: RegistryTransport(context, proxy=proxy),
                    environ={})
    assert isinstance(direct.lean_for("https", "private.example:5000"),
                      RegistryTransport)


def test_without_pycurl_lean_reads_ride_aiohttp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routing, "curl_available", lambda: False)
    router = Router(RegistrySettings(), lambda context, proxy: RegistryTransport(context),
                    environ={})
    assert isinstance(router.lean_for("http", "127.0.0.1:5000"), RegistryTransport)


@pytest.mark.parametrize(("platform", "found", "expected"), [
    ("linux", True, True), ("darwin", True, True), ("win32", True, False), ("linux", False, False)])
def test_libcurl_is_used_where_it_is_there_and_the_loop_watches_sockets(
        monkeypatch: pytest.MonkeyPatch, platform: str, found: bool, expected: bool) -> None:
    """pycurl's asyncio integration refuses Windows' proactor loop: there, and without pycurl,
    lean reads ride aiohttp instead of failing."""
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if found else None)
    lean_api.curl_available.cache_clear()
    try:
        assert lean_api.curl_available() is expected
    finally:
        lean_api.curl_available.cache_clear()


LISTING = """
import sys
from cachetui.cli import main
code = main(["ls", "--json", sys.argv[1]])
print("aiohttp loaded" if "aiohttp" in sys.modules else "aiohttp not loaded", file=sys.stderr)
sys.exit(code)
"""


async def test_an_anonymous_listing_never_loads_aiohttp(registry: RunningRegistry,
                                                       tmp_path: object) -> None:
    """Its tag page, manifests and configs all go through libcurl: the 45 ms of loading
    aiohttp are not paid."""
    repo = unique_repo("noaio")
    await _fill(registry.host, repo, copies=2)
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", LISTING, f"{registry.host}/{repo}"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=60,
        env={**os.environ, "CACHETUI_CACHE_DIR": str(tmp_path)}, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count('"tag"') == 6
    assert "aiohttp not loaded" in done.stderr

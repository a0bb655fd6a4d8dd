"""Issue 10 item 11: ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` are honoured (never for loopback),
and kept-alive connections expire before a NAT's idle timeout can turn them into stalls.

A real TLS registry answers to ``registry.test`` (a name only the proxy in ``tests/connect_proxy.py``
can resolve), so every answer proves the request went through the proxy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from cachetui.store.registry import RegistrySession
from cachetui.store.registry.settings import RegistrySettings
from tests.connect_proxy import ConnectProxy
from tests.fixtures import fixture_dir
from tests.registry_procs import RunningRegistry, start_registry
from tests.registry_server import fast_settings, push_layout, unique_repo

NAME = "registry.test"
LAYOUT = fixture_dir("buildkit-registry", "app-buildcache-max")
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "https_proxy",
                   "http_proxy", "all_proxy", "no_proxy")


@pytest.fixture(scope="module")
def named_tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    running = start_registry(tmp_path_factory.mktemp("registry-named"), tls=True,
                             tls_names=(NAME,))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def named_plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    running = start_registry(tmp_path_factory.mktemp("registry-named-plain"))
    yield running
    running.stop()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def named(running: RunningRegistry) -> str:
    return f"{NAME}:{running.host.rsplit(':', 1)[1]}"


def tls_settings(running: RunningRegistry, **overrides: object) -> RegistrySettings:
    assert running.ca_file is not None
    return fast_settings(ca_files={named(running): str(running.ca_file)}, **overrides)


async def round_trip(settings: RegistrySettings, host: str) -> None:
    """Push a cache and read it back: uploads (POST, PATCH/PUT) and downloads all work."""
    async with RegistrySession(settings) as session:
        store = session.store(host, unique_repo("proxy"))
        top = await push_layout(store, LAYOUT, "t", "buildcache-max")
        assert await store.list_tags() == ["t"]
        assert (await store.get_manifest("t")).digest == top.digest


async def test_https_proxy_carries_registry_traffic_through_connect(
        named_tls_registry: RunningRegistry, clean_env: pytest.MonkeyPatch) -> None:
    proxy = ConnectProxy({NAME: "127.0.0.1"}).start()
    try:
        clean_env.setenv("HTTPS_PROXY", proxy.url)
        await round_trip(tls_settings(named_tls_registry), named(named_tls_registry))
    finally:
        proxy.stop()
    assert proxy.tunnels and {t.target for t in proxy.tunnels} == {named(named_tls_registry)}
    assert {t.method for t in proxy.tunnels} == {"CONNECT"}


async def test_http_proxy_forwards_an_insecure_registry(
        named_plain_registry: RunningRegistry, clean_env: pytest.MonkeyPatch) -> None:
    proxy = ConnectProxy({NAME: "127.0.0.1"}).start()
    host = named(named_plain_registry)
    try:
        clean_env.setenv("http_proxy", proxy.url)
        await round_trip(fast_settings(insecure_hosts=frozenset({host})), host)
    finally:
        proxy.stop()
    assert proxy.tunnels and {t.target for t in proxy.tunnels} == {host}


async def test_loopback_is_never_proxied(registry: RunningRegistry,
                                         clean_env: pytest.MonkeyPatch) -> None:
    proxy = ConnectProxy({}).start()
    try:
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
            clean_env.setenv(name, proxy.url)
        await round_trip(fast_settings(), registry.host)
    finally:
        proxy.stop()
    assert proxy.tunnels == []


async def test_a_proxy_that_refuses_is_one_clear_line(
        named_tls_registry: RunningRegistry, clean_env: pytest.MonkeyPatch) -> None:
    proxy = ConnectProxy({}).start()  # resolves nothing: 502 to every CONNECT
    try:
        clean_env.setenv("HTTPS_PROXY", proxy.url)
        async with RegistrySession(tls_settings(named_tls_registry)) as session:
            with pytest.raises(Exception) as caught:
                await session.store(named(named_tls_registry), "x/y").list_tags()
    finally:
        proxy.stop()
    text = str(caught.value)
    assert "proxy" in text and "\n" not in text


async def test_idle_tunnels_expire_before_the_nat_forgets_them(
        named_tls_registry: RunningRegistry, clean_env: pytest.MonkeyPatch) -> None:
    """The proxy black-holes a tunnel idle for 1 s; connections idle 0.5 s are not reused."""
    proxy = ConnectProxy({NAME: "127.0.0.1"}, black_hole_after=1.0).start()
    host = named(named_tls_registry)
    try:
        clean_env.setenv("HTTPS_PROXY", proxy.url)
        settings = tls_settings(named_tls_registry, idle_expiry=0.5, stall_timeout=3.0)
        async with RegistrySession(settings) as session:
            store = session.store(host, unique_repo("idle"))
            await push_layout(store, LAYOUT, "t", "buildcache-max")
            await asyncio.sleep(1.5)
            started = time.monotonic()
            assert await store.list_tags() == ["t"]
            assert time.monotonic() - started < 2.0, "a forgotten flow was reused"
    finally:
        proxy.stop()
    assert any(t.dead for t in proxy.tunnels) or len(proxy.tunnels) >= 2


def test_no_proxy_and_scheme_routing() -> None:
    from cachetui.store.registry.routing import Router, environment_proxies

    environ = {"HTTPS_PROXY": "proxy.example:3128", "http_proxy": "http://plain.example:8080",
               "NO_PROXY": "internal.example,.corp.example,registry.test:5000"}
    router = Router(RegistrySettings(), lambda context, proxy: httpx.AsyncHTTPTransport(),
                    environ=environ)

    def via(url: str) -> str | None:
        proxy = router.proxy_for(httpx.URL(url))
        return None if proxy is None else str(proxy.url)

    assert via("https://ghcr.io/v2/") == "http://proxy.example:3128"
    assert via("http://insecure.example/v2/") == "http://plain.example:8080"
    assert via("https://internal.example/v2/") is None
    assert via("https://a.corp.example/v2/") is None
    assert via("https://registry.test:5000/v2/") is None
    assert via("https://registry.test:5001/v2/") == "http://proxy.example:3128"
    for loopback in ("http://127.0.0.1:5000/v2/", "http://localhost:5000/v2/",
                     "http://[::1]:5000/v2/"):
        assert via(loopback) is None
    assert environment_proxies({"HTTPS_PROXY": "a", "https_proxy": "b"}) == {"https": "b"}


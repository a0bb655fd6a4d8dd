"""The lean document path (``store/registry/lean.py``): a listing reads its first tag page,
manifests and configs outside httpx (libcurl, or the aiohttp session where libcurl does not
carry the route), with the same requests, the same answers and the same credentials as the
httpx path; a challenge, an expired token and a redirect still go the httpx way, once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cachetui.buildkit.analysis import CacheAnalysis
from cachetui.ops.inventory import collect, scan_store
from cachetui.ops.load import DocumentMemo
from cachetui.store.registry import RegistrySession, routing
from cachetui.store.registry.aio import RegistryTransport
from cachetui.store.registry.client import plain_netloc
from cachetui.store.registry.curl import CurlLean
from cachetui.store.registry.lean_api import LeanAnswer
from tests.hostile_registry import PASSWORD, USER, HostileRegistry
from tests.registry_procs import RunningRegistry
from tests.registry_server import credentials, fast_settings, unique_repo
from tests.test_registry_auth import _push, _session
from tests.test_registry_inventory import Counting, _fill


class Calls:
    """What went the lean way (method, kind, status) and what went through httpx."""

    def __init__(self) -> None:
        self.lean: Counter[tuple[str, str, int]] = Counter()
        self.httpx: Counter[tuple[str, str]] = Counter()

    def hook(self, session: RegistrySession) -> None:
        async def seen(request: httpx.Request) -> None:
            self.httpx[(request.method, _kind(request.url.path))] += 1

        session.http.event_hooks["request"].append(seen)


def _figures(analysis: CacheAnalysis | None) -> dict[str, object]:
    """Every field of an analysis but its chain index (an index object, compared by identity)."""
    assert analysis is not None
    return {name: getattr(analysis, name) for name in analysis.__struct_fields__
            if name != "chains"}


def _kind(path: str) -> str:
    return "manifest" if "/manifests/" in path else "blob" if "/blobs/" in path else path


@pytest.fixture(params=["curl", "aiohttp"])
def calls(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Lean reads counted on the engine under test (libcurl, or aiohttp when libcurl is not
    there); the other engine must not be used."""
    record = Calls()
    engine: type[CurlLean] | type[RegistryTransport] = CurlLean
    other: type[CurlLean] | type[RegistryTransport] = RegistryTransport
    if request.param == "aiohttp":
        monkeypatch.setattr(routing, "curl_available", lambda: False)
        engine, other = other, engine
    original = engine.lean

    async def counted(self: Any, method: str, url: str, *args: Any, **kwargs: Any
                      ) -> LeanAnswer:
        answer = await original(self, method, url, *args, **kwargs)
        record.lean[(method, _kind(httpx.URL(url).path), answer.status)] += 1
        return answer

    async def unexpected(self: Any, *args: Any, **kwargs: Any) -> LeanAnswer:
        raise AssertionError(f"a lean read on {other.__name__}")

    monkeypatch.setattr(engine, "lean", counted)
    monkeypatch.setattr(other, "lean", unexpected)
    return record


async def test_a_listing_reads_its_documents_the_lean_way(registry: RunningRegistry,
                                                          calls: Calls) -> None:
    repo = unique_repo("lean")
    await _fill(registry.host, repo, copies=4)
    async with RegistrySession(fast_settings()) as session:
        calls.hook(session)
        entries, errors, _ = await collect(scan_store(session.store(registry.host, repo),
                                                      memo=DocumentMemo(None)))
    assert errors == [] and len(entries) == 12
    assert calls.httpx == Counter()  # nothing went through httpx
    assert calls.lean == Counter({("GET", f"/v2/{repo}/tags/list", 200): 1,
                                  ("GET", "manifest", 200): 12, ("GET", "blob", 200): 3})
    # The same caches as through httpx alone (a session on a transport of its own).
    async with RegistrySession(fast_settings(), transport=Counting()) as session:
        plain, errors, _ = await collect(scan_store(session.store(registry.host, repo),
                                                    memo=DocumentMemo(None)))
    assert errors == []
    for mine, theirs in zip(sorted(entries, key=lambda e: e.tag),
                            sorted(plain, key=lambda e: e.tag), strict=True):
        assert (mine.tag, mine.digest) == (theirs.tag, theirs.digest)
        assert _figures(mine.analysis) == _figures(theirs.analysis)


async def test_the_lean_way_sends_the_token_the_flow_got(registry_token: RunningRegistry,
                                                         calls: Calls) -> None:
    issuer = registry_token.issuer
    assert issuer is not None
    repo = unique_repo("leantoken")
    async with _session("alice", "alice-secret") as session:
        top = await _push(session, registry_token.host, repo)
    async with _session("alice", "alice-secret") as session:
        calls.hook(session)
        store = session.store(registry_token.host, repo)
        assert await store.list_tags() == ["cache"]  # lean: challenge; httpx: token, answer
        # The challenge the lean request met is not met again: one request through httpx.
        assert calls.httpx == Counter({("GET", f"/v2/{repo}/tags/list"): 1,
                                       ("GET", "/token"): 1})
        before = len(issuer.log)
        for _ in range(3):
            assert (await store.get_manifest("cache")).digest == top.digest
        assert (await store.resolve("cache")).digest == top.digest
    assert len(issuer.log) == before  # the pull token of the listing serves them all
    assert calls.lean == Counter({("GET", f"/v2/{repo}/tags/list", 401): 1,
                                  ("GET", "manifest", 200): 3, ("HEAD", "manifest", 200): 1})


async def test_a_challenge_on_the_lean_way_is_answered_by_the_flow(
        registry_token: RunningRegistry, calls: Calls) -> None:
    """A token for one repository does not cover another: the lean request gets a 401, and the
    httpx flow fetches the right token and repeats the request, once."""
    first, second = unique_repo("leanscope"), unique_repo("leanscope")
    async with _session("alice", "alice-secret") as session:
        await _push(session, registry_token.host, first)
        top = await _push(session, registry_token.host, second)
    async with _session("alice", "alice-secret") as session:
        calls.hook(session)
        assert await session.store(registry_token.host, first).list_tags() == ["cache"]
        calls.httpx.clear()
        calls.lean.clear()
        got = await session.store(registry_token.host, second).get_manifest("cache")
    assert got.digest == top.digest
    assert calls.lean == Counter()  # no live token for this scope: straight to the flow
    # The 401, the token, the request again with it.
    assert calls.httpx == Counter({("GET", "manifest"): 2, ("GET", "/token"): 1})


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileRegistry]:
    server = HostileRegistry().start()
    yield server
    server.stop()


async def test_a_redirected_config_is_followed_from_the_redirect(hostile: HostileRegistry,
                                                                 calls: Calls) -> None:
    """Basic auth, blobs redirected to another port: the config is read from where the lean
    request was sent (no second request to the registry), without the credentials."""
    repo = "redirect/lean"
    main_before, other_before = len(hostile.seen.on("main")), len(hostile.seen.on("other"))
    async with RegistrySession(fast_settings(), credential_lookup=lambda _: credentials(
            USER, PASSWORD)) as session:
        entries, errors, _ = await collect(scan_store(session.store(hostile.host, repo),
                                                      memo=DocumentMemo(None)))
    assert errors == [] and len(entries) == 1 and entries[0].analysis is not None
    assert calls.lean == Counter({("GET", f"/v2/{repo}/tags/list", 401): 1,
                                  ("GET", "manifest", 200): 1, ("GET", "blob", 307): 1})
    on_main = [r for r in hostile.seen.on("main")[main_before:]
               if repo in r.target and "/blobs/" in r.target]
    assert len(on_main) == 1
    stored = [r for r in hostile.seen.on("other")[other_before:]
              if r.target.startswith("/storage/")]
    assert stored and all("authorization" not in r.headers for r in stored)


HOSTS = ["localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:5000", "127.0.0.1:80",
         "127.0.0.1:443", "ghcr.io", "registry-1.docker.io", "a.b-c.d:5000", "a-.com", "1.2.3",
         "256.1.1.1", "01.2.3.4", "Example.com", "example.com:0443", "example.com:0", "x:65535",
         "x:65536", "[::1]:5000", "xn--bcher-kva.example", "b\u00fccher.example", "a_b.example",
         "example.com.", "-a.com"]


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_host_is_named_as_httpx_names_it_without_httpx(scheme: str) -> None:
    """The lean path keys a host (credentials, tokens, CA files) by ``host[:port]`` as httpx
    normalises it, without parsing a URL with httpx when the name is already in that form;
    anything else is left to httpx."""
    for host in HOSTS:
        plain = plain_netloc(scheme, host)
        if plain is not None:
            assert plain == httpx.URL(f"{scheme}://{host}").netloc.decode("ascii"), host
    kept = {host for host in HOSTS if plain_netloc(scheme, host) is not None}
    assert {"localhost:5000", "127.0.0.1:5000", "ghcr.io", "registry-1.docker.io"} <= kept
    assert {"Example.com", "256.1.1.1", "[::1]:5000", "b\u00fccher.example"}.isdisjoint(kept)
    assert ("127.0.0.1:80" in kept) == (scheme == "https")  # (:80 is http's own: httpx drops it)

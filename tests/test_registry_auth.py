"""Auth against real registries: anonymous, Basic (htpasswd), Bearer (token server), scopes."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cachetui.errors import AuthError
from cachetui.oci.digest import Digest
from cachetui.oci.models import Descriptor, TopObject
from cachetui.store.registry import RegistrySession
from cachetui.store.registry.auth import covers, merge_scopes, parse_challenge, request_scopes
from cachetui.store.registry.credentials import Credentials, lookup
from tests.fixtures import fixture_dir
from tests.registry_procs import RunningRegistry
from tests.registry_server import IDENTITY_TOKEN, credentials, fast_settings, push_layout, unique_repo

LAYOUT = "app-buildcache-min"


def _session(user: str | None = None, password: str = "") -> RegistrySession:
    explicit = credentials(user, password) if user else None
    return RegistrySession(fast_settings(credentials=explicit), credential_lookup=lambda _: None)


async def _push(session: RegistrySession, host: str, repo: str, tag: str = "cache") -> TopObject:
    return await push_layout(session.store(host, repo), fixture_dir("buildkit-registry", LAYOUT),
                             tag, "buildcache-min")


def test_challenge_parsing_and_scopes() -> None:
    import httpx

    challenge = parse_challenge('Bearer realm="http://x/token",service="svc",'
                                'scope="repository:a/b:pull,push repository:c:pull",'
                                'error="insufficient_scope"')
    assert challenge is not None
    assert challenge.scheme == "bearer"
    assert challenge.params["realm"] == "http://x/token"
    assert challenge.scopes == ["repository:a/b:pull,push", "repository:c:pull"]
    mount = httpx.Request("POST", "http://h/v2/a/b/blobs/uploads/?mount=sha256:x&from=c/d")
    assert request_scopes(mount) == ["repository:a/b:pull,push", "repository:c/d:pull"]
    assert request_scopes(httpx.Request("DELETE", "http://h/v2/a/manifests/x")) == [
        "repository:a:delete"]
    assert request_scopes(httpx.Request("GET", "http://h/v2/_catalog")) == ["registry:catalog:*"]


def test_scopes_compare_whatever_order_the_registry_names_actions_in() -> None:
    """distribution names a challenge's actions in map order: ``push,pull`` or ``pull,push``."""
    ours = merge_scopes(["repository:a/b:pull,push"])
    assert merge_scopes(["repository:a/b:push,pull"]) == ours
    assert merge_scopes(["repository:a/b:pull", "repository:a/b:push,pull"]) == ours
    assert merge_scopes(["repository:a/b:pull", "repository:c:pull"]) == frozenset(
        {"repository:a/b:pull", "repository:c:pull"})
    assert covers(ours, merge_scopes(["repository:a/b:pull"]))
    assert not covers(merge_scopes(["repository:a/b:pull"]), ours)
    assert not covers(ours, merge_scopes(["repository:a/b:pull", "repository:c:pull"]))
    assert covers(merge_scopes(["registry:catalog:*"]), merge_scopes(["registry:catalog:*"]))


async def test_basic_auth(registry_basic: RunningRegistry) -> None:
    repo = unique_repo("basic")
    async with _session("alice", "alice-secret") as session:
        top = await _push(session, registry_basic.host, repo)
        store = session.store(registry_basic.host, repo)
        assert (await store.get_manifest("cache")).raw == top.raw
        assert repo in await session.catalog(registry_basic.host)
    async with _session("alice", "wrong-password") as session:
        with pytest.raises(AuthError, match="wrong username or password") as info:
            await session.store(registry_basic.host, repo).list_tags()
        assert "wrong-password" not in str(info.value)
    async with _session() as session:
        with pytest.raises(AuthError, match="authentication required"):
            await session.store(registry_basic.host, repo).list_tags()


async def test_bearer_token_flow_and_cache(registry_token: RunningRegistry) -> None:
    issuer = registry_token.issuer
    assert issuer is not None
    repo = unique_repo("bearer")
    async with _session("alice", "alice-secret") as session:
        top = await _push(session, registry_token.host, repo)
        store = session.store(registry_token.host, repo)
        before = len(issuer.log)
        for _ in range(5):
            assert (await store.get_manifest("cache")).digest == top.digest
        assert len(issuer.log) - before <= 1  # the pull token is cached and sent up front
        assert repo in await session.catalog(registry_token.host)
    assert any(user == "alice" and f"repository:{repo}:pull,push" in scopes
               for user, scopes, _ in issuer.log)


async def test_anonymous_pull_but_not_push(registry_token: RunningRegistry) -> None:
    repo = unique_repo("anon")
    async with _session("alice", "alice-secret") as session:
        top = await _push(session, registry_token.host, repo)
    async with _session() as session:
        store = session.store(registry_token.host, repo)
        assert (await store.get_manifest("cache")).raw == top.raw
        with pytest.raises(AuthError, match="do not allow"):
            await store.put_manifest(top, "other")


async def test_wrong_password_on_token_server(registry_token: RunningRegistry) -> None:
    async with _session("alice", "not-it") as session:
        with pytest.raises(AuthError, match="wrong username or password") as info:
            await session.store(registry_token.host, unique_repo("wrong")).list_tags()
    assert "not-it" not in str(info.value)


async def test_delete_asks_for_the_delete_scope(registry_token: RunningRegistry) -> None:
    issuer = registry_token.issuer
    assert issuer is not None
    repo = unique_repo("delete")
    async with _session("alice", "alice-secret") as session:
        top = await _push(session, registry_token.host, repo)
        store = session.store(registry_token.host, repo)
        await store.delete_manifest(top.digest)
        assert await store.list_tags() == []
    assert any(f"repository:{repo}:delete" in scopes for _, scopes, _ in issuer.log)


async def test_delete_without_permission_is_a_clear_error(registry_token: RunningRegistry) -> None:
    repo = unique_repo("nodelete")
    async with _session("bob", "bob-secret") as session:
        top = await _push(session, registry_token.host, repo)
        store = session.store(registry_token.host, repo)
        with pytest.raises(AuthError, match="do not allow this action"):
            await store.delete_manifest(top.digest)
        assert await store.list_tags() == ["cache"]


async def test_mount_across_repositories_with_tokens(registry_token: RunningRegistry) -> None:
    source_repo, target_repo = unique_repo("src"), unique_repo("dst")
    async with _session("alice", "alice-secret") as session:
        top = await _push(session, registry_token.host, source_repo)
        source = session.store(registry_token.host, source_repo)
        target = session.store(registry_token.host, target_repo)
        for child in top.children():
            assert await target.mount_blob(child, source) is True
        await target.put_manifest(top, "mounted")
        assert (await target.get_manifest("mounted")).raw == top.raw


def test_docker_config_and_helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = {
        "auths": {
            "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hubuser:hubpass").decode()},
            "127.0.0.1:5000": {"auth": base64.b64encode(b"local:secret:with:colons").decode()},
            "https://legacy.example.com/v1/": {"identitytoken": "refresh-me"},
        },
        "credHelpers": {"helped.example.com": "fake"},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    helper.write_text('#!/bin/sh\nread server\nif [ "$server" = "helped.example.com" ]; then\n'
                      'echo \'{"ServerURL":"x","Username":"<token>","Secret":"idtok"}\'\nelse\n'
                      'echo "credentials not found in native keychain"; exit 1\nfi\n')
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    hub = lookup("registry-1.docker.io")
    assert hub is not None and (hub.username, hub.password) == ("hubuser", "hubpass")
    local = lookup("127.0.0.1:5000")
    assert local is not None and local.password == "secret:with:colons"
    legacy = lookup("legacy.example.com")
    assert legacy is not None and legacy.identity_token == "refresh-me"
    helped = lookup("helped.example.com")
    assert helped is not None and helped.identity_token == "idtok"
    assert lookup("unknown.example.com") is None
    assert "secret" not in repr(local) and "secret" not in str(local)
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(json.dumps({"auths": {"127.0.0.1:5000": {
        "auth": base64.b64encode(b"podman:pw").decode()}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth_file))
    first = lookup("127.0.0.1:5000")
    assert first is not None and first.username == "podman"


def test_credentials_never_show_secrets() -> None:
    creds = Credentials(username="u", password="hunter2", identity_token="tok2", source="x")
    assert "hunter2" not in repr(creds) and "tok2" not in repr(creds)
    assert "hunter2" not in str(creds)


@pytest.mark.parametrize("server", ["registry_basic", "registry_token"])
async def test_a_large_blob_streams_up_with_credentials(server: str,
                                                        request: pytest.FixtureRequest) -> None:
    """A streamed PATCH cannot be sent twice: the flow must have credentials on it up front."""
    running: RunningRegistry = request.getfixturevalue(server)
    data = os.urandom(3 * 1024 * 1024 + 7)
    descriptor = Descriptor(media_type="application/octet-stream", digest=Digest.of(data),
                            size=len(data))

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 256 * 1024):
            yield data[start:start + 256 * 1024]

    settings = fast_settings(credentials=credentials("alice", "alice-secret"),
                             monolithic_limit=1024 * 1024, upload_chunk=1024 * 1024)
    async with RegistrySession(settings, credential_lookup=lambda _: None) as session:
        store = session.store(running.host, unique_repo("streamed"))
        await store.put_blob(descriptor, pieces())
        assert b"".join([piece async for piece in store.open_blob(descriptor)]) == data


async def test_identity_token_is_exchanged_with_a_refresh_token_post(
        registry_token: RunningRegistry) -> None:
    """``identitytoken`` from docker's config.json: OAuth2 ``grant_type=refresh_token``."""
    issuer = registry_token.issuer
    assert issuer is not None
    identity = Credentials(username="<token>", identity_token=IDENTITY_TOKEN, source="test")
    repo = unique_repo("identity")
    async with RegistrySession(fast_settings(credentials=identity),
                               credential_lookup=lambda _: None) as session:
        top = await _push(session, registry_token.host, repo)
        assert (await session.store(registry_token.host, repo).get_manifest("cache")).raw == top.raw
    posts = [(user, scopes) for user, scopes, method in issuer.log if method == "POST"]
    assert any(user == "alice" and f"repository:{repo}:pull,push" in scopes
               for user, scopes in posts)
    wrong = Credentials(username="<token>", identity_token="stale", source="test")
    async with RegistrySession(fast_settings(credentials=wrong),
                               credential_lookup=lambda _: None) as session:
        with pytest.raises(AuthError):
            await _push(session, registry_token.host, unique_repo("identity"))

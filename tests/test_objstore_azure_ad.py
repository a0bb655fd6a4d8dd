"""Azure AD sign-in for azblob caches, for real: azure-identity's ``DefaultAzureCredential``
finds a managed identity (App Service's ``IDENTITY_ENDPOINT``/``IDENTITY_HEADER``, served by
:mod:`tests.azure_token_server`) and its tokens are checked by Azurite 3.35.0's OAuth over HTTPS
(self-signed certificate trusted through ``CACHETUI_CA_FILE``). Tokens are fetched off the event
loop, reused until near expiry and refreshed; refused or missing tokens are one clear line; no
token ever reaches the output."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cachetui.cli import main
from cachetui.errors import AuthError
from cachetui.store.azblob import AzblobBackend, AzblobSettings, AzblobStore, AzureAdToken
from tests.azure_token_server import STORAGE_AUDIENCE, TokenServer, mint
from tests.backend_fixtures import facts
from tests.fixtures import REPO_ROOT
from tests.objstore_procs import Azurite
from tests.objstore_servers import az_loaded
from tests.test_objstore_azure_credentials import clear_azure_env

IDENTITY_ENV = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET",
                "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "AZURE_PASSWORD",
                "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "MSI_ENDPOINT", "MSI_SECRET",
                "IMDS_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT", "CACHETUI_CA_FILE")


@pytest.fixture
def identity(azurite_oauth: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenServer]:
    """A managed identity for this test only, and nothing else azure-identity could pick."""
    clear_azure_env(monkeypatch)
    for name in IDENTITY_ENV:
        monkeypatch.delenv(name, raising=False)
    server = TokenServer().start()
    monkeypatch.setenv("IDENTITY_ENDPOINT", server.endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", server.header)
    assert azurite_oauth.ca_file is not None
    monkeypatch.setenv("CACHETUI_CA_FILE", azurite_oauth.ca_file)
    yield server
    server.stop()


def loaded(azurite: Azurite) -> str:
    """A new container holding the real ``azblob/two-builds`` dump (written with the key)."""

    async def load() -> str:
        store = await az_loaded(azurite, "two-builds")
        assert isinstance(store.backend, AzblobBackend)
        await store.aclose()
        return store.backend.settings.container

    return asyncio.run(load())


def spec(azurite: Azurite, container: str) -> str:
    return (f"type=azblob,account_url={azurite.account_url},account_name={azurite.account},"
            f"container={container}")


def ad_store(azurite: Azurite, container: str) -> tuple[AzblobStore, AzblobBackend, AzureAdToken]:
    """Neither key nor SAS: Azure AD. The store, its backend and its token source."""
    store = AzblobStore(AzblobSettings(account_url=azurite.account_url,
                                       account_name=azurite.account, container=container))
    backend = store.backend
    assert isinstance(backend, AzblobBackend) and backend._azure_ad is not None
    return store, backend, backend._azure_ad


def test_ls_signs_in_with_a_managed_identity(
        azurite_oauth: Azurite, identity: TokenServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    container = loaded(azurite_oauth)
    assert main(["ls", spec(azurite_oauth, container), "--json"]) == 0
    out = capsys.readouterr()
    names = sorted(entry["tag"] for entry in json.loads(out.out))
    assert names == sorted(m["name"] for m in facts("azblob", "two-builds")["manifests"])
    # The token was asked for Azure Storage, with the identity header, and never shown.
    assert identity.requests and identity.requests[0]["resource"] == [STORAGE_AUDIENCE]
    assert identity.requests[0]["api-version"] == ["2019-08-01"]
    assert identity.issued
    for token in identity.issued:
        assert token not in out.out + out.err
        assert token.split(".")[1] not in out.out + out.err


async def test_one_token_serves_many_requests_and_is_refreshed_near_expiry(
        azurite_oauth: Azurite, identity: TokenServer) -> None:
    container = await asyncio.to_thread(loaded, azurite_oauth)
    store, backend, tokens = ad_store(azurite_oauth, container)
    try:
        keys = [info.key async for info in backend.list("")]
        for key in keys[:5]:
            assert await backend.head(key) is not None
        assert tokens.fetches == 1 and len(identity.issued) == 1
    finally:
        await store.aclose()
    # Tokens that live 6 s, asked for again 2.5 s before they expire.
    identity.lifetime = 6
    store, backend, tokens = ad_store(azurite_oauth, container)
    tokens.refresh_margin = 2.5
    try:
        assert await backend.head(keys[0]) is not None
        assert await backend.head(keys[1]) is not None
        assert tokens.fetches == 1 and len(identity.issued) == 2
        await asyncio.sleep(4)  # within the margin: asked again (azure-identity may reuse it)
        assert await backend.head(keys[0]) is not None
        assert tokens.fetches == 2
        await asyncio.sleep(2.5)  # the first 6 s token has expired: a new one is minted
        assert await backend.head(keys[0]) is not None
        # 3, or 4 when a loaded machine stretched the sleeps into the margin of the token
        # azure-identity minted at 4 s (then asked again, it may mint once more)
        assert len(identity.issued) >= 3
    finally:
        await store.aclose()


def test_a_token_for_another_audience_is_one_line(
        azurite_oauth: Azurite, identity: TokenServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    container = loaded(azurite_oauth)
    identity.audience = "https://management.azure.com"
    assert main(["ls", spec(azurite_oauth, container)]) != 0
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Azure AD token was refused" in lines[0]
    assert "Invalid token audience" in lines[0]
    assert "Traceback" not in err
    assert identity.issued and identity.issued[0] not in err


async def test_an_expired_token_is_one_clear_error(
        azurite_oauth: Azurite, identity: TokenServer) -> None:
    """A token the service finds expired (clock skew, revocation): Azurite's 403 is named."""
    container = await asyncio.to_thread(loaded, azurite_oauth)
    store, backend, tokens = ad_store(azurite_oauth, container)
    expired, _ = mint(STORAGE_AUDIENCE, -120)
    tokens._token = expired
    tokens._expires_on = time.time() + 3600
    try:
        with pytest.raises(AuthError) as refused:
            _ = [info async for info in backend.list("")]
    finally:
        await store.aclose()
    message = str(refused.value)
    assert "\n" not in message
    assert "The token is expired" in message
    assert expired not in message


def test_no_token_from_the_identity_is_one_line(
        azurite_oauth: Azurite, identity: TokenServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    container = loaded(azurite_oauth)
    identity.refuse = True
    assert main(["ls", spec(azurite_oauth, container)]) != 0
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Azure AD sign-in failed" in lines[0]
    assert "Traceback" not in err


def test_no_token_is_one_line_in_a_real_process_too(
        azurite_oauth: Azurite, identity: TokenServer, tmp_path: Path) -> None:
    """As a user runs it: no logging set up, so azure-identity's warning (the chain report, a
    dozen lines) went to Python's last-resort handler, above the one-line error. In process,
    pytest's log capture hides that; a child process does not."""
    container = loaded(azurite_oauth)
    identity.refuse = True
    done = subprocess.run([sys.executable, "-m", "cachetui", "ls", spec(azurite_oauth, container)],
                          capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
                          env={**os.environ, "CACHETUI_CACHE_DIR": str(tmp_path)})
    assert done.returncode == 1
    assert done.stderr.splitlines() == [line for line in done.stderr.splitlines()
                                        if line.startswith("cachetui: error: ")], done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "Azure AD sign-in failed" in done.stderr
    assert identity.requests  # the identity was asked, and refused


def test_without_azure_identity_the_message_names_the_extra(
        azurite_oauth: Azurite, identity: TokenServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity", None)
    assert main(["ls", spec(azurite_oauth, "no-such-container")]) != 0
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "cachetui[azure]" in err
    assert not identity.requests

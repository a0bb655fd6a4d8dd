"""s3, azblob and gha clients verify TLS as before when their context is made ahead and shared.

A workspace keeps one TLS context per trust (:mod:`cachetui.store.tls`); the TUI makes it in a
thread before the store opens (:func:`cachetui.locations.openers.prepare`). What each client
trusts is unchanged: httpx's default for s3 and gha, and for azblob the system's trust plus
``CACHETUI_CA_FILE`` (or the spec's CA) when set. Azurite over HTTPS with its own certificate
stands for a private-CA endpoint.
"""

from __future__ import annotations

import asyncio
import ssl
import threading

import httpx
import pytest

from cachetui.errors import InvalidInput, NetworkError
from cachetui.locations import Location, Workspace, parse_location
from cachetui.locations.openers import prepare
from cachetui.store.azblob import AzblobBackend
from cachetui.store.gha.store import GhaStore
from cachetui.store.objects import ObjectStore
from cachetui.store.s3 import S3Backend
from cachetui.store.tls import DEFAULT_TRUST, Trust
from tests.objstore_procs import Azurite, Moto
from tests.objstore_servers import az_loaded
from tests.test_objstore_azure_credentials import clear_azure_env
from tests.test_objstore_cli import az_spec, s3_spec


def client_context(store: object) -> ssl.SSLContext:
    """The TLS context an s3 or azblob store's httpx client connects with."""
    assert isinstance(store, ObjectStore)
    backend = store.backend
    assert isinstance(backend, S3Backend | AzblobBackend)
    transport = backend._client._transport
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    context = transport._pool._ssl_context
    assert isinstance(context, ssl.SSLContext)
    return context


def ca_count(context: ssl.SSLContext) -> int:
    return int(context.cert_store_stats()["x509_ca"])


@pytest.fixture
def private_ca(azurite_oauth: Azurite, monkeypatch: pytest.MonkeyPatch) -> str:
    clear_azure_env(monkeypatch)
    assert azurite_oauth.ca_file is not None
    return azurite_oauth.ca_file


async def a_container(azurite: Azurite) -> str:
    store = await az_loaded(azurite, "two-builds")
    assert isinstance(store.backend, AzblobBackend)
    await store.aclose()
    return store.backend.settings.container


async def tag_names(workspace: Workspace, location: Location) -> list[str]:
    store = workspace.open(location)
    return sorted(await store.list_tags())


@pytest.mark.parametrize("prepared", [False, True], ids=["opened", "prepared-then-opened"])
async def test_azblob_trusts_its_private_ca_and_only_with_it(
        azurite_oauth: Azurite, private_ca: str, monkeypatch: pytest.MonkeyPatch,
        prepared: bool) -> None:
    """Over HTTPS with a self-signed certificate: listed when ``CACHETUI_CA_FILE`` names it,
    refused (one line, certificate not trusted) when it is not set, made ahead or not."""
    location = parse_location(az_spec(azurite_oauth, await a_container(azurite_oauth)))
    monkeypatch.setenv("CACHETUI_CA_FILE", private_ca)
    async with Workspace() as workspace:
        if prepared:
            await asyncio.to_thread(prepare, workspace, location)
        assert len(await tag_names(workspace, location)) == 2
        context = client_context(workspace.open(location))
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    monkeypatch.delenv("CACHETUI_CA_FILE")
    async with Workspace() as workspace:
        if prepared:
            prepare(workspace, location)
        with pytest.raises(NetworkError, match="cannot reach"):
            await tag_names(workspace, location)


async def test_a_context_made_ahead_is_the_one_the_store_uses(
        moto: Moto, azurite_oauth: Azurite, private_ca: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """prepare makes each trust's context once, in the calling thread; the stores opened after
    use those very contexts (httpx's default for s3, system + CA file for azblob) and make none
    (before: each store made its own as it opened)."""
    monkeypatch.setenv("CACHETUI_CA_FILE", private_ca)
    s3 = parse_location(s3_spec(moto, "some-bucket"))
    azblob = parse_location(az_spec(azurite_oauth, "some-container"))
    made: list[str] = []
    create = ssl.create_default_context

    def recorded(*args: object, **kwargs: object) -> ssl.SSLContext:
        made.append(threading.current_thread().name)
        return create(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl, "create_default_context", recorded)
    async with Workspace() as workspace:
        def both() -> None:
            prepare(workspace, s3)
            prepare(workspace, azblob)

        thread = threading.Thread(target=both, name="preparing")
        thread.start()
        thread.join()
        assert made == ["preparing", "preparing"]
        s3_context = client_context(workspace.open(s3))
        az_context = client_context(workspace.open(azblob))
        assert client_context(workspace.open(s3)) is s3_context
        assert made == ["preparing", "preparing"], "a store made a context of its own"
    default = httpx.create_ssl_context()
    assert s3_context is not az_context
    assert ca_count(s3_context) == ca_count(default) > 0
    assert ca_count(az_context) == ca_count(Trust(private_ca).context())
    for context in (s3_context, az_context):
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


async def test_gha_clients_take_the_default_context_of_the_run(
        moto: Moto, monkeypatch: pytest.MonkeyPatch) -> None:
    """gha's REST client verifies with httpx's default trust, the same context s3 uses."""
    monkeypatch.setenv("GITHUB_TOKEN", "not-a-real-token")
    async with Workspace() as workspace:
        gha = workspace.open(parse_location("gha://octo/app"))
        assert isinstance(gha, GhaStore)
        transport = gha.rest._client._transport
        assert isinstance(transport, httpx.AsyncHTTPTransport)
        context = transport._pool._ssl_context
        assert context is workspace.shared(DEFAULT_TRUST.key, DEFAULT_TRUST.context)
        assert context is client_context(workspace.open(parse_location(
            s3_spec(moto, "some-bucket"))))
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize("prepared", [False, True], ids=["opened", "prepared-then-opened"])
async def test_an_unreadable_ca_file_is_the_same_one_line_error(
        azurite_oauth: Azurite, private_ca: str, monkeypatch: pytest.MonkeyPatch,
        prepared: bool) -> None:
    """prepare leaves a CA file that cannot be read to the open, which says so as before."""
    monkeypatch.setenv("CACHETUI_CA_FILE", "/nonexistent/ca.pem")
    location = parse_location(az_spec(azurite_oauth, "some-container"))
    async with Workspace() as workspace:
        if prepared:
            prepare(workspace, location)
        with pytest.raises(InvalidInput, match=r"^CA file '/nonexistent/ca.pem' cannot be read "
                                               r"as PEM: No such file or directory$"):
            workspace.open(location)

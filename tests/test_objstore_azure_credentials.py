"""Azure credentials the way users have them, against the real Azurite: a connection string
(``AZURE_STORAGE_CONNECTION_STRING``) and a container SAS (``sas_token=`` or
``AZURE_STORAGE_SAS_TOKEN``); neither the key nor the SAS ever reaches the terminal."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from cachetui.cli import main
from cachetui.store.azblob import AzblobBackend
from tests.backend_fixtures import facts
from tests.objstore_procs import Azurite
from tests.objstore_servers import az_loaded

SAS_VERSION = "2018-11-09"


def container_sas(azurite: Azurite, container: str, permissions: str = "racwdl",
                  expiry: datetime | None = None) -> tuple[str, str]:
    """A service SAS for one container, signed with the account key ("Create a service SAS",
    version 2018-11-09: sp, st, se, canonicalized resource, si, sip, spr, sv, sr, snapshot time,
    rscc, rscd, rsce, rscl, rsct, one per line). Returns (token, signature)."""
    expires = (expiry or datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    resource = f"/blob/{azurite.account}/{container}"
    to_sign = "\n".join([permissions, "", expires, resource, "", "", "http", SAS_VERSION, "c",
                         "", "", "", "", "", ""])
    key = base64.b64decode(azurite.key)
    signature = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha256).digest()).decode()
    token = (f"sv={SAS_VERSION}&sr=c&sp={permissions}&se={quote(expires, safe='')}&spr=http"
             f"&sig={quote(signature, safe='')}")
    return token, signature


def clear_azure_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_CONNECTION_STRING",
                 "BUILDKIT_AZURE_STORAGE_ACCOUNT_URL", "BUILDKIT_AZURE_STORAGE_ACCOUNT_NAME",
                 "BUILDKIT_AZURE_STORAGE_CONTAINER", "BUILDKIT_AZURE_STORAGE_PREFIX"):
        monkeypatch.delenv(name, raising=False)


def loaded_container(azurite: Azurite) -> str:
    """A new container holding the real ``azblob/two-builds`` dump (loaded with the key)."""

    async def load() -> str:
        store = await az_loaded(azurite, "two-builds")
        assert isinstance(store.backend, AzblobBackend)
        name = store.backend.settings.container
        await store.aclose()
        return name

    return asyncio.run(load())


def tags(text: str) -> list[str]:
    return sorted(entry["tag"] for entry in json.loads(text))


def test_connection_string_in_azurites_well_known_form(
        azurite: Azurite, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    container = loaded_container(azurite)
    clear_azure_env(monkeypatch)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING",
                       f"DefaultEndpointsProtocol=http;AccountName={azurite.account};"
                       f"AccountKey={azurite.key};BlobEndpoint={azurite.account_url};")
    assert main(["ls", f"azblob://{azurite.account}/{container}", "--json"]) == 0
    out = capsys.readouterr()
    assert tags(out.out) == sorted(m["name"] for m in facts("azblob", "two-builds")["manifests"])
    assert azurite.key not in out.out + out.err
    wrong = base64.b64encode(b"not-the-account-key-at-all").decode()
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING",
                       f"DefaultEndpointsProtocol=http;AccountName={azurite.account};"
                       f"AccountKey={wrong};BlobEndpoint={azurite.account_url};")
    assert main(["ls", f"azblob://{azurite.account}/{container}"]) != 0
    out = capsys.readouterr()
    assert "access denied" in out.err
    assert wrong not in out.out + out.err and azurite.key not in out.out + out.err


def test_container_sas_as_spec_attribute_and_from_the_environment(
        azurite: Azurite, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    container = loaded_container(azurite)
    clear_azure_env(monkeypatch)
    token, signature = container_sas(azurite, container)
    expected = sorted(m["name"] for m in facts("azblob", "two-builds")["manifests"])
    spec = (f"type=azblob,account_url={azurite.account_url},account_name={azurite.account},"
            f"container={container},sas_token=?{token}")
    assert main(["ls", spec, "--json"]) == 0
    out = capsys.readouterr()
    assert tags(out.out) == expected
    assert signature not in out.out + out.err and quote(signature, safe="") not in out.out
    monkeypatch.setenv("BUILDKIT_AZURE_STORAGE_ACCOUNT_URL", azurite.account_url)
    monkeypatch.setenv("AZURE_STORAGE_SAS_TOKEN", token)
    assert main(["ls", f"azblob://{azurite.account}/{container}", "--json"]) == 0
    assert tags(capsys.readouterr().out) == expected


def test_a_sas_url_as_account_url_is_signed_in_and_never_shown(
        azurite: Azurite, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The portal's "Blob SAS URL" pasted as account_url: the query is the SAS, not a path."""
    container = loaded_container(azurite)
    clear_azure_env(monkeypatch)
    token, signature = container_sas(azurite, container)
    spec = (f"type=azblob,account_url={azurite.account_url}?{token},"
            f"account_name={azurite.account},container={container}")
    for args in (["ls", spec, "--json"], ["ls", spec], ["inspect", spec]):
        assert main(args) == 0
        out = capsys.readouterr()
        for hidden in (signature, quote(signature, safe=""), "sig="):
            assert hidden not in out.out + out.err
    assert main(["ls", spec, "--json"]) == 0
    assert tags(capsys.readouterr().out) == sorted(
        m["name"] for m in facts("azblob", "two-builds")["manifests"])
    forged, forged_sig = container_sas(azurite, "some-other-container")
    bad = spec.replace(token, forged)
    assert main(["ls", bad]) != 0
    out = capsys.readouterr()
    assert "access denied" in out.err
    assert forged_sig not in out.out + out.err and "sig=" not in out.out + out.err


def test_an_expired_or_forged_sas_is_one_line_without_the_signature(
        azurite: Azurite, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    container = loaded_container(azurite)
    clear_azure_env(monkeypatch)
    monkeypatch.setenv("BUILDKIT_AZURE_STORAGE_ACCOUNT_URL", azurite.account_url)
    expired, expired_sig = container_sas(azurite, container,
                                         expiry=datetime.now(UTC) - timedelta(hours=1))
    forged, forged_sig = container_sas(azurite, "some-other-container")
    for token, signature in ((expired, expired_sig), (forged, forged_sig)):
        monkeypatch.setenv("AZURE_STORAGE_SAS_TOKEN", token)
        assert main(["ls", f"azblob://{azurite.account}/{container}"]) != 0
        out = capsys.readouterr()
        lines = [line for line in out.err.splitlines() if line.strip()]
        assert len(lines) == 1, out.err
        assert "Traceback" not in out.err
        for hidden in (signature, quote(signature, safe=""), "sig=", azurite.key):
            assert hidden not in out.out + out.err

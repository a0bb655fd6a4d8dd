"""TLS trust of registry connections is built when a TLS connection needs it: aiohttp loads
without parsing the system's CA bundle for its defaults (~40 ms of every registry command's
start-up), and TLS registries are still verified against the system's trust."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cachetui.errors import NetworkError
from cachetui.store.registry import RegistrySession
from tests.fixtures import REPO_ROOT
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings

PROBE = """
import json, ssl
import cachetui.store.registry
import aiohttp.connector as connector
print(json.dumps({
    "default_cas": connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"],
    "default_verifies": connector._SSL_CONTEXT_VERIFIED.verify_mode == ssl.CERT_REQUIRED,
    "system_cas": ssl.create_default_context().cert_store_stats()["x509_ca"],
    "restored": "set_default_verify_paths" not in vars(ssl.SSLContext)
                and ssl.create_default_context.__module__ == "ssl",
}))
"""


def test_aiohttp_loads_without_parsing_the_ca_bundle(registry_tls: RunningRegistry) -> None:
    """With a one-certificate system bundle, aiohttp's verifying default holds none of it (it
    would hold it when built at import, as before) and still verifies (fails closed); ``ssl`` is
    as it was once aiohttp is loaded."""
    assert registry_tls.ca_file is not None
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=60, check=True,
                          env={**os.environ, "SSL_CERT_FILE": str(registry_tls.ca_file)})
    found = json.loads(done.stdout)
    assert found == {"default_cas": 0, "default_verifies": True, "system_cas": 1,
                     "restored": True}


async def test_a_tls_registry_is_verified_with_the_system_trust(
        registry_tls: RunningRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``--ca-file``: the connection trusts what the system trusts (``SSL_CERT_FILE`` here),
    read when the first TLS connection is made, and nothing else."""
    assert registry_tls.ca_file is not None
    host = registry_tls.host
    settings = fast_settings(tls_hosts=frozenset({host}))
    monkeypatch.setenv("SSL_CERT_FILE", str(registry_tls.ca_file))
    async with RegistrySession(settings) as session:
        await session.ping(host)
    monkeypatch.setenv("SSL_CERT_FILE", os.devnull)
    monkeypatch.setenv("SSL_CERT_DIR", os.devnull)
    async with RegistrySession(settings) as session:
        with pytest.raises(NetworkError, match=r"TLS connection failed.*certificate"):
            await session.ping(host)

"""TLS trust of registry connections is built when a TLS connection needs it: aiohttp loads
without parsing the system's CA bundle for its defaults (~40 ms of every registry command's
start-up), and TLS registries are still verified against the system's trust."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cachetui.cli import main as cli_main
from cachetui.errors import NetworkError, NotFound
from cachetui.oci.reference import parse_reference
from cachetui.store.registry import RegistrySession, routing, trust
from cachetui.store.tls import with_ca_file
from tests.fixtures import REPO_ROOT
from tests.registry_procs import RunningRegistry, TokenIssuer, self_signed, start_registry
from tests.registry_server import fast_settings, unique_repo

PROBE = """
import json, ssl
import cachetui.store.registry.aio
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


BESIDE_THE_IMPORT = """
import json, ssl, sys, threading

entered, release = threading.Event(), threading.Event()


class Hold:
    # holds the import of aiohttp.connector (the patched window) until the main thread is done
    def find_spec(self, name, path=None, target=None):
        if name == "aiohttp.connector" and threading.current_thread().name == "importer":
            entered.set()
            release.wait(30)


sys.meta_path.insert(0, Hold())
importer = threading.Thread(target=lambda: __import__("cachetui.store.registry.aio"), name="importer")
importer.start()
assert entered.wait(30)
made = ssl.create_default_context()
loaded = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
loaded.load_default_certs()
release.set()
importer.join(30)
import aiohttp.connector as connector
print(json.dumps({
    "beside": [made.cert_store_stats()["x509_ca"], loaded.cert_store_stats()["x509_ca"]],
    "default_cas": connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"],
    "restored": "set_default_verify_paths" not in vars(ssl.SSLContext)
                and ssl.create_default_context.__module__ == "ssl",
    "after": ssl.create_default_context().cert_store_stats()["x509_ca"],
}))
"""


def test_a_tls_context_made_while_aiohttp_loads_in_a_thread_has_the_system_trust(
        registry_tls: RunningRegistry) -> None:
    """The TUI imports the registry stack in a thread at any time: a context made meanwhile in
    another thread (the event loop) trusts the system's CAs (it trusted none while the patch
    was process-wide); the importing thread's defaults still trust nothing; ``ssl`` is restored."""
    assert registry_tls.ca_file is not None
    done = subprocess.run([sys.executable, "-c", BESIDE_THE_IMPORT], capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=60, check=False,
                          env={**os.environ, "SSL_CERT_FILE": str(registry_tls.ca_file)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == {"beside": [1, 1], "default_cas": 0, "restored": True,
                                       "after": 1}


def _recording(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The threads that make registry TLS contexts (the system's trust, or plus a CA file)."""
    made: list[str] = []
    system, with_file = trust.system_context, routing.ssl_context

    def system_context() -> ssl.SSLContext:
        made.append(threading.current_thread().name)
        return system()

    def ssl_context(ca_file: str) -> ssl.SSLContext:
        made.append(threading.current_thread().name)
        return with_file(ca_file)

    monkeypatch.setattr(trust, "system_context", system_context)
    monkeypatch.setattr(routing, "ssl_context", ssl_context)
    return made


async def test_prepare_makes_the_tls_context_in_its_thread_and_it_still_verifies(
        registry_tls: RunningRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    """:meth:`RegistrySession.prepare` in a thread makes the context the first request would
    have made on the loop, with the same trust: the CA file of the host, or the system's."""
    assert registry_tls.ca_file is not None
    host = registry_tls.host
    made = _recording(monkeypatch)
    trusted = fast_settings(tls_hosts=frozenset({host}), ca_files={host: str(registry_tls.ca_file)})
    async with RegistrySession(trusted) as session:
        await asyncio.to_thread(session.prepare, host)
        assert made and threading.current_thread().name not in made
        before = list(made)
        await session.ping(host)  # verified with the CA file
        assert made == before  # the request made no context of its own
    monkeypatch.setenv("SSL_CERT_FILE", os.devnull)
    monkeypatch.setenv("SSL_CERT_DIR", os.devnull)
    async with RegistrySession(fast_settings(tls_hosts=frozenset({host}))) as session:
        await asyncio.to_thread(session.prepare, host)
        with pytest.raises(NetworkError, match=r"TLS connection failed.*certificate"):
            await session.ping(host)  # nothing trusts the registry's certificate: refused


async def test_prepare_leaves_an_unreadable_ca_file_to_the_request(
        registry_tls: RunningRegistry, tmp_path: Path) -> None:
    """A CA file that cannot be read fails the first request as it did without ``prepare``."""
    host = registry_tls.host
    settings = fast_settings(tls_hosts=frozenset({host}),
                             ca_files={host: str(tmp_path / "missing.pem")})
    failures = []
    for prepared in (False, True):
        async with RegistrySession(settings) as session:
            if prepared:
                await asyncio.to_thread(session.prepare, host)
            with pytest.raises(Exception) as caught:  # the same, whatever it is
                await session.ping(host)
            failures.append((type(caught.value), str(caught.value)))
    assert failures[0] == failures[1]


def test_a_plain_http_registry_needs_no_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    made = _recording(monkeypatch)
    session = RegistrySession(fast_settings())
    session.prepare("127.0.0.1:5000")
    assert made == []


@pytest.mark.parametrize("kind", ["missing", "directory", "not PEM"])
def test_an_unreadable_ca_file_is_one_clear_line(kind: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """``--ca-file`` naming a missing file, a directory or a file that is not PEM: exit 1 and one
    line naming the file (it was a traceback from ``ssl``), before any connection is tried."""
    ca_file, reason = {"missing": (tmp_path / "missing.pem", "No such file or directory"),
                       "directory": (tmp_path, "Is a directory"),
                       "not PEM": (tmp_path / "notes.txt", "no certificate")}[kind]
    (tmp_path / "notes.txt").write_text("not a certificate\n")
    code = cli_main(["ls", "--ca-file", str(ca_file), "registry.invalid/team/app"])
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line]
    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith(f"cachetui: error: CA file {str(ca_file)!r} cannot be read as PEM: ")
    assert reason in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""


def test_with_ca_file_keeps_the_system_trust_and_adds_the_file(
        registry_tls: RunningRegistry) -> None:
    assert registry_tls.ca_file is not None
    system = ssl.create_default_context().cert_store_stats()["x509_ca"]
    context = with_ca_file(str(registry_tls.ca_file))
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == system + 1


@pytest.fixture(scope="module")
def registry_tls_realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """A TLS registry whose token server is another HTTPS host, with a certificate of its own."""
    workdir = tmp_path_factory.mktemp("registry-tls-realm")
    pair = self_signed("127.0.0.1", ip_san="127.0.0.1")
    cert, key = workdir / "realm-cert.pem", workdir / "realm-key.pem"
    cert.write_bytes(pair.cert_pem)
    key.write_bytes(pair.key_pem)
    issuer = TokenIssuer(users={}, tls=(cert, key))
    running = start_registry(workdir / "registry", issuer=issuer, tls=True)
    yield running
    running.stop()


async def test_a_token_server_on_another_host_gets_its_tls_context_off_the_loop(
        registry_tls_realm: RunningRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    """The realm a 401 names is on another host trusted through a CA file of its own: its TLS
    context is made in a thread before the token request (it was made on the event loop by
    the request, after ``prepare`` had made the registry's), and the token server is still
    verified: with its CA file only."""
    registry, issuer = registry_tls_realm, registry_tls_realm.issuer
    assert registry.ca_file is not None and issuer is not None and issuer.tls is not None
    realm_host = f"127.0.0.1:{issuer.port}"
    made = _recording(monkeypatch)
    ref = parse_reference(f"{registry.host}/{unique_repo('realm')}", default_tag=False)
    settings = fast_settings(tls_hosts=frozenset({registry.host}),
                             ca_files={registry.host: str(registry.ca_file),
                                       realm_host: str(issuer.tls[0])})
    async with RegistrySession(settings) as session:
        await asyncio.to_thread(session.prepare, registry.host)  # as the TUI opens it
        assert len(made) == 1
        with pytest.raises(NotFound):
            await session.repository(ref).list_tags()  # an anonymous pull token, then 404
        assert issuer.log and issuer.log[-1][0] == ""
        assert len(made) == 2, made
        assert made[1] != threading.current_thread().name, "made on the event loop's thread"
    # Its certificate is trusted through its CA file only: without it, no token (one line).
    wrong = fast_settings(tls_hosts=frozenset({registry.host}),
                          ca_files={registry.host: str(registry.ca_file)})
    monkeypatch.setenv("SSL_CERT_FILE", os.devnull)
    monkeypatch.setenv("SSL_CERT_DIR", os.devnull)
    async with RegistrySession(wrong) as session:
        with pytest.raises(NetworkError, match="certificate"):
            await session.repository(ref).list_tags()


def test_a_loopback_registry_with_a_ca_file_in_the_config_speaks_tls(
        registry_tls: RunningRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """``registry:2`` with TLS on localhost: loopback means plain HTTP unless the config gives
    the host a CA file of its own (it was always plain HTTP: "the connection broke"); marked
    insecure as well, it stays plain HTTP."""
    assert registry_tls.ca_file is not None
    host = registry_tls.host
    config = tmp_path / "config.toml"
    config.write_text(f'[registries."{host}"]\nca_file = "{registry_tls.ca_file}"\n')
    monkeypatch.setenv("CACHETUI_CONFIG", str(config))
    assert cli_main(["ls", "--json", f"{host}/nothing/here"]) == 1
    err = capsys.readouterr().err
    assert "HTTP 404" in err, err  # the registry answered: over TLS, verified with the file
    config.write_text(f'[registries."{host}"]\nca_file = "{registry_tls.ca_file}"\n'
                      f'insecure = true\n')
    assert cli_main(["ls", "--json", f"{host}/nothing/here"]) == 1
    err = capsys.readouterr().err
    assert "HTTP 400" in err, err  # plain HTTP to a TLS port: Go answers 400, and we say so
    assert "the registry speaks TLS on this port, and the request was plain HTTP" in err, err

"""Start moto (S3, IAM signature checking on) and Azurite 3.35.0 on loopback, and load dumps.

No pytest here: fixtures (``tests/objstore_servers.py``) and ``bench/`` both use it.

Both are spawned the same way (:func:`_spawn`: a temp directory, a free port, a log, wait until
it answers) and stopped the same way (:class:`Spawned`). moto runs in server mode with
``INITIAL_NO_AUTH_ACTION_COUNT``: the first few actions (creating an IAM user, its policy and its
access key) pass unauthenticated, every later request is checked, so a wrong secret gets 403 as
on AWS. Azurite always runs with ``--disableTelemetry`` (without it
it tries to reach an outside host), in memory, on 127.0.0.1, with its own account and key; with
``oauth=True`` it serves HTTPS with a certificate made here (its OAuth works over HTTPS only) and
takes Azure AD bearer tokens (``--oauth basic``).
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from tests.backend_fixtures import objects
from tests.registry_procs import free_port, self_signed

REPO: Final = Path(__file__).resolve().parent.parent
AZURITE: Final = Path(os.environ.get(
    "CACHETUI_AZURITE", REPO / ".cache" / "node" / "node_modules" / ".bin" / "azurite-blob"))
MOTO: Final = Path(os.environ.get("CACHETUI_MOTO", Path(sys.executable).parent / "moto_server"))
"""Installed by ``pip install -e '.[test]'`` beside the interpreter running the tests."""
AZ_ACCOUNT: Final = "bkfixtures"
AZ_KEY: Final = base64.b64encode(b"fake-azurite-key-for-local-fixtures-only").decode()
READY_TIMEOUT: Final = 60.0
NO_AUTH_ACTIONS: Final = 3
"""CreateUser, PutUserPolicy, CreateAccessKey: then every request is authenticated."""


class ServerStartError(RuntimeError):
    """moto or Azurite is missing or did not come up."""


def _wait(url: str, process: subprocess.Popen[bytes], log: Path,
          context: ssl.SSLContext | None = None) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(f"{url}: exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1, context=context).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise ServerStartError(f"{url} did not answer within {READY_TIMEOUT:.0f} s")


@dataclass
class Spawned:
    """A server process on loopback and the temp directory that holds its storage and log."""

    process: subprocess.Popen[bytes]
    tmp: tempfile.TemporaryDirectory[str]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.tmp.cleanup()


def _spawn(name: str, argv: list[str], ready_path: str, *, env: dict[str, str] | None = None,
           scheme: str = "http", prepare: Any = None
           ) -> tuple[str, subprocess.Popen[bytes], tempfile.TemporaryDirectory[str]]:
    """Start ``argv`` (``{port}`` and ``{tmp}`` filled in) in a new temp directory on a free
    port and wait until ``ready_path`` answers. ``prepare(tmp)`` may write files first and return
    the SSL context to wait with. Returns (endpoint, process, temp directory)."""
    tmp = tempfile.TemporaryDirectory(prefix=f"cachetui-{name}-")
    port = free_port()
    context = prepare(Path(tmp.name)) if prepare is not None else None
    log = Path(tmp.name) / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([arg.format(port=port, tmp=tmp.name) for arg in argv],
                                   stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})}, cwd=tmp.name)
    endpoint = f"{scheme}://127.0.0.1:{port}"
    try:
        _wait(f"{endpoint}{ready_path}", process, log, context)
    except ServerStartError:
        tmp.cleanup()
        raise
    return endpoint, process, tmp


@dataclass
class Moto(Spawned):
    """A moto server with one IAM user allowed ``s3:*``."""

    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key)


def start_moto() -> Moto:
    if not MOTO.exists():
        raise ServerStartError(f"moto_server not found at {MOTO}: run scripts/test.sh")
    import boto3

    endpoint, process, tmp = _spawn(
        "moto", [str(MOTO), "-H", "127.0.0.1", "-p", "{port}"], "/moto-api/",
        env={"INITIAL_NO_AUTH_ACTION_COUNT": str(NO_AUTH_ACTIONS),
             "MOTO_ALLOW_NONEXISTENT_REGION": "false"})
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
    iam.create_user(UserName="cachetui")
    iam.put_user_policy(UserName="cachetui", PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="cachetui")["AccessKey"]
    return Moto(process, tmp, endpoint, key["AccessKeyId"], key["SecretAccessKey"])


def load_s3(moto: Moto, bucket: str, variant: str) -> None:
    """Create ``bucket`` and put every object of the ``s3/<variant>`` dump at its exact key."""
    client = moto.client()
    client.create_bucket(Bucket=bucket)
    for item in objects("s3", variant):
        client.put_object(Bucket=bucket, Key=item.key, Body=item.path.read_bytes(),
                          ContentType="application/octet-stream", Metadata=item.metadata)


@dataclass
class Azurite(Spawned):
    endpoint: str
    account: str
    key: str = field(repr=False)
    ca_file: str | None = None
    """With OAuth: the PEM of its self-signed certificate, for clients to trust."""

    @property
    def account_url(self) -> str:
        return f"{self.endpoint}/{self.account}"


def _certificate(tmp: Path) -> ssl.SSLContext:
    """cert.pem and key.pem for 127.0.0.1 in ``tmp``; the context that trusts them."""
    pair = self_signed("127.0.0.1", ip_san="127.0.0.1")
    (tmp / "cert.pem").write_bytes(pair.cert_pem)
    (tmp / "key.pem").write_bytes(pair.key_pem)
    return ssl.create_default_context(cafile=str(tmp / "cert.pem"))


def start_azurite(*, oauth: bool = False) -> Azurite:
    """Azurite in memory; ``oauth``: over HTTPS, taking Azure AD tokens as well as keys."""
    if not AZURITE.exists():
        raise ServerStartError(f"azurite-blob not found at {AZURITE}: run scripts/test.sh")
    argv = [str(AZURITE), "--disableTelemetry", "--inMemoryPersistence", "--blobHost",
            "127.0.0.1", "--blobPort", "{port}", "--extentMemoryLimit", "1024"]
    if oauth:
        argv += ["--oauth", "basic", "--cert", "{tmp}/cert.pem", "--key", "{tmp}/key.pem"]
    endpoint, process, tmp = _spawn(
        "azurite", argv, f"/{AZ_ACCOUNT}?comp=list",
        env={"AZURITE_ACCOUNTS": f"{AZ_ACCOUNT}:{AZ_KEY}"}, scheme="https" if oauth else "http",
        prepare=_certificate if oauth else None)
    ca_file = str(Path(tmp.name) / "cert.pem") if oauth else None
    return Azurite(process, tmp, endpoint, AZ_ACCOUNT, AZ_KEY, ca_file)

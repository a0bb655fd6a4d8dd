"""Start moto (S3, IAM signature checking on) and Azurite 3.35.0 on loopback, and load dumps.

No pytest here: fixtures (``tests/objstore_servers.py``) and ``bench/`` both use it.

moto runs in server mode with ``INITIAL_NO_AUTH_ACTION_COUNT``: the first few actions (creating
an IAM user, its policy and its access key) pass unauthenticated, every later request is checked,
so a wrong secret gets 403 as on AWS. Azurite always runs with ``--disableTelemetry`` (without it
it tries to reach an outside host), in memory, on 127.0.0.1, with its own account and key.
"""

from __future__ import annotations

import base64
import json
import os
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
from tests.registry_procs import free_port

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


def _wait(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(f"{url}: exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise ServerStartError(f"{url} did not answer within {READY_TIMEOUT:.0f} s")


@dataclass
class Moto:
    """A moto server with one IAM user allowed ``s3:*``."""

    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    process: subprocess.Popen[bytes]
    tmp: tempfile.TemporaryDirectory[str]

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.tmp.cleanup()


def start_moto() -> Moto:
    if not MOTO.exists():
        raise ServerStartError(f"moto_server not found at {MOTO}: run scripts/test.sh")
    import boto3

    tmp = tempfile.TemporaryDirectory(prefix="cachetui-moto-")
    port = free_port()
    log = Path(tmp.name) / "moto.log"
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(NO_AUTH_ACTIONS),
           "MOTO_ALLOW_NONEXISTENT_REGION": "false"}
    with open(log, "wb") as out:
        process = subprocess.Popen([str(MOTO), "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp.name)
    endpoint = f"http://127.0.0.1:{port}"
    _wait(f"{endpoint}/moto-api/", process, log)
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
    iam.create_user(UserName="cachetui")
    iam.put_user_policy(UserName="cachetui", PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="cachetui")["AccessKey"]
    return Moto(endpoint, key["AccessKeyId"], key["SecretAccessKey"], process, tmp)


def load_s3(moto: Moto, bucket: str, variant: str) -> None:
    """Create ``bucket`` and put every object of the ``s3/<variant>`` dump at its exact key."""
    client = moto.client()
    client.create_bucket(Bucket=bucket)
    for item in objects("s3", variant):
        client.put_object(Bucket=bucket, Key=item.key, Body=item.path.read_bytes(),
                          ContentType="application/octet-stream", Metadata=item.metadata)


@dataclass
class Azurite:
    endpoint: str
    account: str
    key: str = field(repr=False)
    process: subprocess.Popen[bytes]
    tmp: tempfile.TemporaryDirectory[str]

    @property
    def account_url(self) -> str:
        return f"{self.endpoint}/{self.account}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.tmp.cleanup()


def start_azurite() -> Azurite:
    if not AZURITE.exists():
        raise ServerStartError(f"azurite-blob not found at {AZURITE}: run scripts/test.sh")
    tmp = tempfile.TemporaryDirectory(prefix="cachetui-azurite-")
    port = free_port()
    log = Path(tmp.name) / "azurite.log"
    env = {**os.environ, "AZURITE_ACCOUNTS": f"{AZ_ACCOUNT}:{AZ_KEY}"}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(AZURITE), "--disableTelemetry", "--inMemoryPersistence", "--blobHost",
             "127.0.0.1", "--blobPort", str(port),
             "--extentMemoryLimit", "1024"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp.name)
    endpoint = f"http://127.0.0.1:{port}"
    _wait(f"{endpoint}/{AZ_ACCOUNT}?comp=list", process, log)
    return Azurite(endpoint, AZ_ACCOUNT, AZ_KEY, process, tmp)

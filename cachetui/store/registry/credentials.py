"""Where registry credentials come from, and a type that never shows its secrets.

Order for a host: explicit ``--username``/``--password-stdin``; ``$REGISTRY_AUTH_FILE`` (else the
containers ``auth.json`` under ``$XDG_RUNTIME_DIR``); docker's ``config.json`` in ``$DOCKER_CONFIG``
(else ``~/.docker``): ``credHelpers[host]``, then ``auths[host]``, then ``credsStore``. Helpers run
as ``docker-credential-NAME get`` with the server name on stdin. Docker Hub is stored under
``https://index.docker.io/v1/``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from cachetui import redact
from cachetui.errors import AuthError

DOCKER_HUB_KEY: Final = "https://index.docker.io/v1/"
_HUB_NAMES: Final = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io",
                               "registry.hub.docker.com"})
HELPER_TIMEOUT: Final = 30.0


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name with a password, an identity (refresh) token, or a ready registry token.

    ``repr`` and ``str`` show the user only, so credentials can travel in objects that get logged.
    """

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)
    registry_token: str | None = field(default=None, repr=False)
    source: str = ""

    def __post_init__(self) -> None:
        redact.remember_login(self.username, self.password)
        redact.remember(self.identity_token, self.registry_token)

    def __str__(self) -> str:
        return f"credentials for {self.username or '<token>'} from {self.source or 'unknown'}"

    @property
    def has_password(self) -> bool:
        return self.username is not None and self.password is not None

    def basic(self) -> str:
        """The value of an ``Authorization: Basic`` header."""
        raw = f"{self.username or ''}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def normalise_key(key: str) -> str:
    """``https://host/v1/`` style keys become ``host``; Docker Hub aliases become ``docker.io``."""
    text = key.strip()
    text = (urlsplit(text).netloc or text) if "://" in text else text.split("/", 1)[0]
    return "docker.io" if text in _HUB_NAMES else text


def _server_names(host: str) -> list[str]:
    """Names under which credentials for ``host`` may be stored, most specific first."""
    if normalise_key(host) == "docker.io":
        return [DOCKER_HUB_KEY, "docker.io", "index.docker.io", "registry-1.docker.io"]
    return [host, f"https://{host}", f"http://{host}"]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not valid JSON"
        raise AuthError(f"cannot read credentials file: {reason}", where=str(path)) from None
    return data if isinstance(data, dict) else None


def _from_auths(data: dict[str, Any], host: str, source: str) -> Credentials | None:
    auths = data.get("auths")
    if not isinstance(auths, dict):
        return None
    wanted = normalise_key(host)
    for key, entry in auths.items():
        if not isinstance(entry, dict) or normalise_key(str(key)) != wanted:
            continue
        username = entry.get("username")
        password = entry.get("password")
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                decoded = base64.b64decode(encoded, validate=False).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise AuthError(f"malformed 'auth' entry for {key}", where=source) from None
            username, sep, password = decoded.partition(":")
            if not sep:
                raise AuthError(f"malformed 'auth' entry for {key}", where=source)
        identity = entry.get("identitytoken") or None
        registry_token = entry.get("registrytoken") or None
        if not (username or identity or registry_token):
            continue
        return Credentials(username=username or None, password=password or None,
                           identity_token=identity, registry_token=registry_token, source=source)
    return None


def run_helper(name: str, host: str) -> Credentials | None:
    """``docker-credential-NAME get``; ``None`` when the helper has nothing for this host."""
    program = f"docker-credential-{name}"
    for server in _server_names(host):
        try:
            done = subprocess.run([program, "get"], input=server.encode(), capture_output=True,
                                  timeout=HELPER_TIMEOUT, check=False)
        except FileNotFoundError:
            raise AuthError(f"credential helper {program} is not installed") from None
        except subprocess.TimeoutExpired:
            raise AuthError(f"credential helper {program} did not answer") from None
        if done.returncode != 0:
            continue  # "credentials not found in native keychain": try the next name
        try:
            answer = json.loads(done.stdout)
        except ValueError:
            raise AuthError(f"credential helper {program} printed malformed output") from None
        username = answer.get("Username") or None
        secret = answer.get("Secret") or None
        if secret is None:
            continue
        if username == "<token>":
            return Credentials(identity_token=secret, source=program)
        return Credentials(username=username, password=secret, source=program)
    return None


def docker_config_dir() -> Path:
    configured = os.environ.get("DOCKER_CONFIG")
    return Path(configured) if configured else Path.home() / ".docker"


def containers_auth_file() -> Path | None:
    explicit = os.environ.get("REGISTRY_AUTH_FILE")
    if explicit:
        return Path(explicit)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "containers" / "auth.json" if runtime else None


def lookup(host: str) -> Credentials | None:
    """Stored credentials for ``host``, or ``None`` to go anonymous."""
    auth_file = containers_auth_file()
    if auth_file is not None:
        data = _read_json(auth_file)
        if data is not None:
            found = _from_auths(data, host, str(auth_file))
            if found is not None:
                return found
    config_path = docker_config_dir() / "config.json"
    data = _read_json(config_path)
    if data is None:
        return None
    helpers = data.get("credHelpers")
    wanted = normalise_key(host)
    if isinstance(helpers, dict):
        for key, helper in helpers.items():
            if normalise_key(str(key)) == wanted and isinstance(helper, str) and helper:
                return run_helper(helper, host)
    found = _from_auths(data, host, str(config_path))
    if found is not None:
        return found
    store = data.get("credsStore")
    if isinstance(store, str) and store:
        return run_helper(store, host)
    return None

"""Start Debian's ``docker-registry`` (CNCF distribution 2.8) and a token issuer on loopback.

No pytest here: the fixtures in ``tests/registry_server.py`` and the benchmarks in ``bench/`` both
use it. Every registry gets a free 127.0.0.1 port, its own temporary root and config, and is ready
when ``/v2/`` answers (200 or 401). Facts: ``shared/reference/registry-auth-testing.md``.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

REGISTRY_BINARY: Final = os.environ.get("CACHETUI_REGISTRY_BINARY", "/usr/bin/docker-registry")
TOKEN_SERVICE: Final = "cachetui-test-registry"
TOKEN_ISSUER: Final = "cachetui-test-issuer"
READY_TIMEOUT: Final = 20.0


class RegistryStartError(RuntimeError):
    """The registry binary is missing or did not come up (the message says why)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class KeyPair:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption())


def self_signed(common_name: str, *, ip_san: str | None = None,
                dns_sans: tuple[str, ...] = ()) -> KeyPair:
    """A self-signed certificate (CA:TRUE), with an IP SAN for a TLS server on loopback."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_sans]
    if ip_san is not None:
        names.append(x509.IPAddress(ipaddress.ip_address(ip_san)))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return KeyPair(key, builder.sign(key, hashes.SHA256()))


def bcrypt_htpasswd(users: dict[str, str]) -> str:
    """htpasswd lines with bcrypt (``$2b$``) hashes: the only kind distribution accepts."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    lines = []
    for user, password in users.items():
        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
        lines.append(f"{user}:{hashed}")
    return "\n".join(lines) + "\n"


# -- token issuer -----------------------------------------------------------------------------
@dataclass
class TokenIssuer:
    """An in-process token server: RS256 JWTs with an ``x5c`` header, as 2.8 and 3.x accept.

    ``users`` maps a user name to (password, actions it may get on repositories). Anonymous
    callers get ``anonymous_actions``. ``log`` records (user or "", requested scopes, method).
    """

    users: dict[str, tuple[str, frozenset[str]]]
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    """Identity tokens (``docker login`` stores them as ``identitytoken``) → user name, for the
    OAuth2 ``grant_type=refresh_token`` POST."""
    anonymous_actions: frozenset[str] = frozenset({"pull"})
    lifetime: int = 300
    pair: KeyPair = field(default_factory=lambda: self_signed("cachetui-token-signer"))
    log: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)
    port: int = 0
    tls: tuple[Path, Path] | None = None
    """Serve HTTPS with this certificate and key file (a token server of its own trust)."""
    _server: http.server.ThreadingHTTPServer | None = None

    @property
    def realm(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/token"

    def mint(self, user: str, scopes: list[str]) -> str:
        granted = self.users[user][1] if user else self.anonymous_actions
        access = []
        for scope in scopes:
            first, last = scope.find(":"), scope.rfind(":")
            if first < 0 or first == last:
                continue
            kind, name, wanted = scope[:first], scope[first + 1:last], scope[last + 1:].split(",")
            if kind == "registry":
                actions = ["*"] if user and "*" in granted else []
            else:
                actions = [a for a in wanted if "*" in granted or a in granted]
            access.append({"type": kind, "name": name, "actions": actions})
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT",
                  "x5c": [base64.b64encode(self.pair.cert.public_bytes(
                      serialization.Encoding.DER)).decode("ascii")]}
        claims = {"iss": TOKEN_ISSUER, "sub": user, "aud": TOKEN_SERVICE, "exp": now + self.lifetime,
                  "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode()))
        signature = self.pair.key.sign(signing_input.encode("ascii"), padding.PKCS1v15(),
                                       hashes.SHA256())
        return signing_input + "." + b64url(signature)

    def _user(self, authorization: str | None, form: dict[str, list[str]]) -> str | None:
        """The authenticated user, "" for anonymous, ``None`` for bad credentials."""
        user, password = "", ""
        if form.get("grant_type") == ["refresh_token"]:
            return self.refresh_tokens.get(form.get("refresh_token", [""])[0])
        if authorization and authorization.lower().startswith("basic "):
            decoded = base64.b64decode(authorization[6:]).decode("utf-8", "replace")
            user, _, password = decoded.partition(":")
        elif form.get("username"):
            user, password = form["username"][0], form.get("password", [""])[0]
        if not user:
            return ""
        known = self.users.get(user)
        return user if known is not None and known[0] == password else None

    def start(self) -> None:
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, form: dict[str, list[str]], scopes: list[str]) -> None:
                user = issuer._user(self.headers.get("Authorization"), form)
                issuer.log.append((user or "", tuple(scopes), self.command))
                if user is None:
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"details":"incorrect username or password"}')
                    return
                token = issuer.mint(user, scopes)
                body = json.dumps({"token": token, "access_token": token,
                                   "expires_in": issuer.lifetime,
                                   "issued_at": dt.datetime.now(dt.UTC).isoformat()}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                self._answer({}, query.get("scope", []))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                self._answer(form, " ".join(form.get("scope", [])).split())

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# -- the registry ------------------------------------------------------------------------------
@dataclass
class RunningRegistry:
    """A started registry: ``host`` is ``127.0.0.1:PORT`` (use it in references)."""

    host: str
    root: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    scheme: str = "http"
    users: dict[str, str] = field(default_factory=dict)
    issuer: TokenIssuer | None = None
    ca_file: Path | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.issuer is not None:
            self.issuer.stop()


def start_registry(workdir: Path, *, delete: bool = True, htpasswd: dict[str, str] | None = None,
                   issuer: TokenIssuer | None = None, tls: bool = False,
                   tls_names: tuple[str, ...] = ()) -> RunningRegistry:
    """Start one registry under ``workdir``; raises :class:`RegistryStartError` if it cannot."""
    if not os.access(REGISTRY_BINARY, os.X_OK):
        raise RegistryStartError(
            f"{REGISTRY_BINARY} not found: install Debian's registry with "
            "`apt-get install -y docker-registry` (scripts/test.sh does this as root)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    root = workdir / "root"
    root.mkdir(exist_ok=True)
    config: dict[str, Any] = {
        "version": "0.1",
        "log": {"level": "info", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(root)}, "delete": {"enabled": delete},
                    "maintenance": {"uploadpurging": {"enabled": False}}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": uuid.uuid4().hex},
    }
    ca_file: Path | None = None
    if htpasswd is not None:
        path = workdir / "htpasswd"
        path.write_text(bcrypt_htpasswd(htpasswd))
        config["auth"] = {"htpasswd": {"realm": "cachetui-basic-realm", "path": str(path)}}
    if issuer is not None:
        issuer.start()
        bundle = workdir / "token-bundle.pem"
        bundle.write_bytes(issuer.pair.cert_pem)
        config["auth"] = {"token": {"realm": issuer.realm, "service": TOKEN_SERVICE,
                                    "issuer": TOKEN_ISSUER, "rootcertbundle": str(bundle)}}
    if tls:
        pair = self_signed("127.0.0.1", ip_san="127.0.0.1", dns_sans=tls_names)
        ca_file = workdir / "tls-cert.pem"
        ca_file.write_bytes(pair.cert_pem)
        key_file = workdir / "tls-key.pem"
        key_file.write_bytes(pair.key_pem)
        config["http"]["tls"] = {"certificate": str(ca_file), "key": str(key_file)}
    config_path = workdir / "config.yml"
    config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    log_path = workdir / "registry.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config_path)],
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    running = RunningRegistry(f"127.0.0.1:{port}", root, log_path, process,
                              scheme="https" if tls else "http", users=dict(htpasswd or {}),
                              issuer=issuer, ca_file=ca_file)
    try:
        _wait_ready(running)
    except BaseException:
        running.stop()
        raise
    return running


def _wait_ready(running: RunningRegistry) -> None:
    context = ssl.create_default_context(cafile=str(running.ca_file)) if running.ca_file else None
    deadline = time.monotonic() + READY_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RegistryStartError(
                f"docker-registry exited with {running.process.returncode} at start:\n"
                f"{running.log_tail()}")
        try:
            with urllib.request.urlopen(f"{running.url}/v2/", timeout=2, context=context):
                return
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                return
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.05)
    raise RegistryStartError(f"docker-registry did not answer on {running.url}/v2/ within "
                             f"{READY_TIMEOUT:.0f} s ({last}):\n{running.log_tail()}")

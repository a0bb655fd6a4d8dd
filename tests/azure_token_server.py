"""A managed-identity token endpoint on loopback, as Azure App Service runs one for its apps.

azure-identity's ``ManagedIdentityCredential`` (and so ``DefaultAzureCredential``) uses it when
``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER`` are set: ``GET {endpoint}?api-version=2019-08-01&
resource=https://storage.azure.com`` with the header ``X-IDENTITY-HEADER``, answered with
``{"access_token", "expires_on", "resource", "token_type"}``. The access token is a JWT with what
Azurite's basic OAuth checks (src/blob/authentication/BlobTokenAuthenticator.ts): ``nbf``, ``exp``
and ``iat`` present and ``nbf <= now <= exp``; ``iss`` starting with ``https://sts.windows.net/``;
``aud`` ``https://storage.azure.com`` (or the account's blob host). Azurite does not check the
signature; the token is signed anyway (HS256), as a real one is (RS256).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final
from urllib.parse import parse_qs, urlsplit

STORAGE_AUDIENCE: Final = "https://storage.azure.com"
TENANT: Final = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint(audience: str, lifetime: float, *, now: float | None = None) -> tuple[str, int]:
    """A JWT for ``audience`` valid from now for ``lifetime`` seconds (negative: expired)."""
    issued = int(now if now is not None else time.time())
    expires = issued + int(lifetime)
    claims = {"aud": audience, "iss": f"https://sts.windows.net/{TENANT}/", "iat": issued - 60,
              "nbf": issued - 60, "exp": expires, "oid": "00000000-0000-0000-0000-00000000c7e1",
              "tid": TENANT, "sub": "cachetui-test-identity", "ver": "1.0"}
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64url(json.dumps(claims).encode())
    signature = hmac.new(b"test-signing-key", f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64url(signature)}", expires


@dataclass
class TokenServer:
    """What the next tokens look like (``audience``, ``lifetime``), or ``refuse`` them all."""

    header: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    audience: str = STORAGE_AUDIENCE
    lifetime: float = 3600.0
    refuse: bool = False
    issued: list[str] = field(default_factory=list, repr=False)
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/msi/token"

    def start(self) -> TokenServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                owner.requests.append(query)
                if self.headers.get("X-IDENTITY-HEADER") != owner.header or owner.refuse:
                    self._send(400, {"statusCode": 400,
                                     "message": "No managed identity endpoint found."})
                    return
                resource = query.get("resource", [""])[0]
                token, expires = mint(owner.audience, owner.lifetime)
                owner.issued.append(token)
                self._send(200, {"access_token": token, "expires_on": str(expires),
                                 "resource": resource, "token_type": "Bearer",
                                 "client_id": "00000000-0000-0000-0000-0000000c11e7"})

            def _send(self, status: int, payload: object) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: tokens must not reach any log."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

"""The GitHub emulator: one HTTP server for the Actions cache REST API, the runtime cache service
(v1 ``_apis/artifactcache`` and v2 Twirp) and the SAS blob URLs v2 hands out.

Shapes come from GitHub's REST documentation, BuildKit's client (tonistiigi/go-actions-cache) and
the request logs in ``fixtures/buildkit-backends/gha/*/http-log``; ``test_gha_emulator_replay``
replays those logs against it. Blob bytes go to Azurite behind real SAS URLs when it is given one
(fixture ``gha_emulator_azurite``, as GitHub keeps them in Azure); otherwise this server answers
the blob calls itself (Put Blob, Put Block, Put Block List and Get Blob with ranges).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from tests.gha_emulator import blob_service, cache_v1, cache_v2, packages, rest
from tests.gha_emulator.azurite_blobs import AzuriteBlobs
from tests.gha_emulator.http import Request, Response, ThreadedServer
from tests.gha_emulator.state import BlobStore, Entry, Repository
from tests.gha_emulator.tokens import RuntimeScopes, parse_runtime_token

SAS_LIFETIME = timedelta(hours=6)
ACCOUNT = "bkfixtures"
CONTAINER = "actions-cache"


@dataclass(slots=True)
class Fault:
    """Answer the next ``count`` requests that ``match`` with ``response`` instead."""

    match: Callable[[Request], bool]
    response: Response
    count: int


@dataclass(slots=True)
class RestToken:
    scopes: frozenset[str]
    limit: int = 5000
    used: int = 0
    reset: int = 0


@dataclass(slots=True)
class Logged:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int


class GitHubEmulator:
    """State plus routing. Start with :meth:`start`; ``url`` is ``http://127.0.0.1:PORT``."""

    def __init__(self, azurite: AzuriteBlobs | None = None) -> None:
        self.azurite = azurite
        """When set, blob bytes live in Azurite behind real SAS URLs (as GitHub's do in Azure);
        otherwise this server answers the blob calls itself."""
        if azurite is not None:
            azurite.ensure_container()
        self.repos: dict[str, Repository] = {}
        self.blobs = BlobStore()
        self.rest_tokens: dict[str, RestToken] = {}
        self.faults: list[Fault] = []
        self.log: list[Logged] = []
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.runtime_repo = ""
        """The repository the runtime token's cache service serves (one per emulator)."""
        self._next_id = 1
        self._secret = b"emulator-sas-secret"
        self._server = ThreadedServer(self.handle)
        self.packages = packages.PackagesState()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> GitHubEmulator:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def set_latency(self, seconds: float) -> None:
        self._server.latency = seconds

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    # -- state helpers -----------------------------------------------------------------------

    def repository(self, full_name: str) -> Repository:
        repo = self.repos.get(full_name.lower())
        if repo is None:
            repo = self.repos[full_name.lower()] = Repository(full_name)
        if not self.runtime_repo:
            self.runtime_repo = full_name
        return repo

    def add_rest_token(self, token: str, scopes: tuple[str, ...] = ("repo",), *,
                       limit: int = 5000) -> None:
        self.rest_tokens[token] = RestToken(frozenset(scopes), limit)

    def allocate_id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    def add_entry(self, repo: str, key: str, version: str, ref: str, data: bytes, *,
                  entry_id: int | None = None, created_at: datetime | None = None,
                  last_accessed_at: datetime | None = None, api: str = "v2") -> Entry:
        """A complete entry, as if uploaded and committed (loading dumps, seeding tests)."""
        if entry_id is None:
            entry_id = self.allocate_id()
        self._next_id = max(self._next_id, entry_id + 1)
        created = created_at or self.clock()
        entry = Entry(entry_id, key, version, ref, created, last_accessed_at or created, api,
                      size=len(data), committed=True, blob_name=f"entry-{entry_id:08d}")
        self.store_blob(entry.blob_name, data, created)
        self.repository(repo).entries.append(entry)
        return entry

    def store_blob(self, name: str, data: bytes, when: datetime) -> None:
        if self.azurite is not None:
            self.azurite.put(name, data)
        else:
            blob_service.store(self, name, data, when)

    def blob_size(self, name: str) -> int | None:
        if self.azurite is not None:
            return self.azurite.size(name)
        blob = self.blobs.blobs.get(name)
        return None if blob is None else len(blob.data)

    def entry_bytes(self, entry: Entry) -> bytes:
        if self.azurite is not None and entry.committed:
            return self.azurite.get(entry.blob_name) or b""
        blob = self.blobs.blobs.get(entry.blob_name)
        if blob is not None:
            return blob.data
        return bytes(entry.v1_data)

    def delete_entry(self, repo: Repository, entry: Entry) -> None:
        repo.entries.remove(entry)
        self.blobs.blobs.pop(entry.blob_name, None)
        if self.azurite is not None:
            self.azurite.delete(entry.blob_name)

    def fail(self, match: Callable[[Request], bool], status: int, *, count: int = 1,
             headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> None:
        self.faults.append(Fault(match, Response(status, headers or [], body), count))

    def secondary_limit(self, *, count: int = 1, retry_after: int = 1, status: int = 429) -> None:
        """The next ``count`` REST calls hit GitHub's secondary rate limit (``Retry-After``)."""
        body = json.dumps({"message": "You have exceeded a secondary rate limit. Please wait a "
                                      "few minutes before you try again.",
                           "documentation_url": "https://docs.github.com/rest/overview/"
                                                "rate-limits-for-the-rest-api"}).encode()
        self.fail(lambda r: r.path.startswith(("/repos/", "/orgs/", "/users/", "/user/")),
                  status, count=count, body=body,
                  headers=[("Retry-After", str(retry_after)), ("Content-Type", "application/json"),
                           ("x-ratelimit-remaining", "4999"), ("x-ratelimit-limit", "5000")])

    def hub_limit(self, *, count: int = 1, retry_after: int = 1) -> None:
        """The next ``count`` Docker Hub API calls get 429 with ``Retry-After`` seconds and the
        ``X-RateLimit-*`` headers (Hub API reference, "Rate Limiting")."""
        body = json.dumps({"detail": "Rate limit exceeded", "error": False}).encode()
        self.fail(lambda r: r.path.startswith(("/v2/namespaces/", "/v2/repositories/",
                                               "/v2/auth/")),
                  429, count=count, body=body,
                  headers=[("Retry-After", str(retry_after)), ("Content-Type", "application/json"),
                           ("X-RateLimit-Limit", "180"), ("X-RateLimit-Remaining", "0"),
                           ("X-RateLimit-Reset", str(int(time.time()) + retry_after))])

    # -- SAS ---------------------------------------------------------------------------------

    def _signature(self, name: str, permissions: str, expiry: str) -> str:
        digest = hmac.new(self._secret, f"{name}\n{permissions}\n{expiry}".encode(),
                          hashlib.sha256).digest()
        return base64.b64encode(digest).decode("ascii")

    def sas_url(self, name: str, permissions: str) -> str:
        expiry = (self.clock() + SAS_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.azurite is not None:
            # Azurite checks expiry against the real clock, not this emulator's.
            real = (datetime.now(UTC) + SAS_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ")
            return self.azurite.sas_url(name, permissions, max(expiry, real))
        sig = self._signature(name, permissions, expiry)
        return (f"{self.url}/{ACCOUNT}/{CONTAINER}/{name}?sv=2024-11-04&se={quote(expiry, safe='')}"
                f"&sr=b&sp={permissions}&sig={quote(sig, safe='')}")

    def check_sas(self, name: str, request: Request, needed: str) -> bool:
        permissions = request.query.get("sp", "")
        expiry = request.query.get("se", "")
        expected = self._signature(name, permissions, expiry)
        if not hmac.compare_digest(expected, request.query.get("sig", "")):
            return False
        if not set(needed) <= set(permissions):
            return False
        try:
            ends = datetime.strptime(expiry, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return False
        return self.clock() < ends

    def v1_download_url(self, entry: Entry) -> str:
        sig = self._signature(str(entry.id), "r", "v1")
        return f"{self.url}/_apis/artifactcache/_download/{entry.id}?sig={quote(sig, safe='')}"

    def check_v1_download(self, entry_id: str, request: Request) -> bool:
        return hmac.compare_digest(self._signature(entry_id, "r", "v1"),
                                   request.query.get("sig", ""))

    # -- runtime token -----------------------------------------------------------------------

    def runtime_scopes(self, request: Request) -> RuntimeScopes | None:
        auth = request.header("authorization") or ""
        if not auth.startswith("Bearer "):
            return None
        scopes = parse_runtime_token(auth[7:])
        if scopes is None or scopes.expires < self.clock().timestamp():
            return None
        return scopes

    def lookup(self, scopes: RuntimeScopes, keys: list[str], version: str) -> Entry | None:
        """The README's rule: per readable ref (writable first) the exact key, then the newest
        entry whose key starts with one of ``keys``; the version must match. A hit counts as an
        access."""
        repo = self.repository(self.runtime_repo)
        for ref in scopes.readable:
            candidates = [e for e in repo.committed() if e.ref == ref and e.version == version]
            found = next((e for key in keys for e in candidates if e.key == key), None)
            if found is None:
                for key in keys:
                    matches = [e for e in candidates if e.key.startswith(key)]
                    if matches:
                        found = max(matches, key=lambda e: (e.created_at, e.id))
                        break
            if found is not None:
                found.last_accessed_at = self.clock()
                return found
        return None

    # -- dispatch ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        response = self._dispatch(request)
        self.log.append(Logged(request.method, request.path, dict(request.query),
                               dict(request.headers), response.status))
        return response

    def _dispatch(self, request: Request) -> Response:
        for fault in self.faults:
            if fault.count > 0 and fault.match(request):
                fault.count -= 1
                return fault.response
        path = request.path
        if path.startswith("/_apis/artifactcache/"):
            return cache_v1.handle(self, request)
        if path.startswith(cache_v2.PREFIX):
            return cache_v2.handle(self, request)
        if path.startswith(f"/{ACCOUNT}/{CONTAINER}/"):
            return blob_service.handle(self, request, path[len(ACCOUNT) + len(CONTAINER) + 3:])
        hub = packages.handle_hub(self, request)
        if hub is not None:
            return hub
        return rest.handle(self, request)


def json_response(status: int, payload: object,
                  headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, [("Content-Type", "application/json; charset=utf-8"),
                             *(headers or [])], json.dumps(payload).encode())


def epoch() -> int:
    return int(time.time())


__all__ = ["Entry", "GitHubEmulator", "json_response"]

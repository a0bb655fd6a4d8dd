"""Registry authentication as an ``httpx.Auth`` flow: Bearer tokens and Basic.

Why a flow of our own: registries announce their scheme in a ``WWW-Authenticate`` challenge, and a
token is only valid for the scopes it was issued for. The flow learns each host's scheme from its
first challenge, then computes the scope every later request needs from its method and path
(``GET`` = pull, ``POST/PUT/PATCH`` = pull+push, ``DELETE`` = delete, a mount also pulls from the
source repository) and sends a cached token up front, so a warm listing costs one round trip per
request. A ``401`` with ``insufficient_scope`` asks for a token with the challenge's scopes too.

Credentials only ever go to the host they belong to and to that host's token realm. httpx drops the
``Authorization`` header when a redirect leaves the origin (blob downloads redirected to object
storage), and the flow never re-applies it to another host.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import httpx
else:
    from cachetui.store.lazyhttpx import httpx

from cachetui import redact
from cachetui.errors import AuthError
from cachetui.store.registry.credentials import Credentials

DEFAULT_TOKEN_LIFETIME: Final = 60.0
CLIENT_ID: Final = "cachetui"
_PARAM: Final = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)')
_REPO_PATH: Final = re.compile(r"\A/v2/(.+?)/(manifests|blobs|tags)/")

CredentialLookup = Callable[[str], Credentials | None]
if TYPE_CHECKING:  # (httpx's types: httpx itself loads on first use)
    Fetch = Callable[[httpx.Request], Awaitable[tuple[httpx.Response, bytes]]]
    RealmCheck = Callable[[str, httpx.URL], str | None]
    """Why credentials for a host must not go to a token realm (``None``: they may)."""


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str
    params: dict[str, str]

    @property
    def scopes(self) -> list[str]:
        return self.params.get("scope", "").split()


def parse_challenge(header: str) -> Challenge | None:
    """``Bearer realm="...",service="...",scope="a b"`` → scheme + parameters (lower-case keys)."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params: dict[str, str] = {}
    for key, raw in _PARAM.findall(rest):
        value = raw[1:-1].replace('\\"', '"') if raw.startswith('"') else raw
        params.setdefault(key.lower(), value)
    return Challenge(scheme.lower(), params)


def request_scopes(request: httpx.Request) -> list[str]:
    """The token scopes a request needs, by distribution's rules."""
    source = request.url.params.get("from")
    mounted = source if source and request.url.params.get("mount") else None
    return scopes_for(request.method, request.url.path, mounted)


def scopes_for(method: str, path: str, mounted_from: str | None = None) -> list[str]:
    """The token scopes of ``method`` on an API ``path`` (no query); ``mounted_from``: the
    source repository of a cross-repository mount."""
    if path == "/v2/_catalog":
        return ["registry:catalog:*"]
    match = _REPO_PATH.match(path)
    if match is None:
        return []
    name = match.group(1)
    method = method.upper()
    if method in ("GET", "HEAD"):
        scopes = [f"repository:{name}:pull"]
    elif method == "DELETE":
        scopes = [f"repository:{name}:delete"]
    else:
        scopes = [f"repository:{name}:pull,push"]
    if mounted_from:
        scopes.append(f"repository:{mounted_from}:pull")
    return scopes


def merge_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """Scopes in one canonical form: one entry per resource, its actions sorted.

    distribution names a challenge's actions in map order, ``pull,push`` one time and
    ``push,pull`` the next; compared as strings, a cached token would be missed at random.
    """
    actions: dict[str, set[str]] = {}
    for scope in scopes:
        resource, colon, names = scope.rpartition(":")
        if not colon or not resource:
            actions.setdefault(scope, set())
            continue
        actions.setdefault(resource, set()).update(name for name in names.split(",") if name)
    return frozenset(f"{resource}:{','.join(sorted(names))}" if names else resource
                     for resource, names in actions.items())


def covers(granted: frozenset[str], needed: frozenset[str]) -> bool:
    """Whether a token for ``granted`` serves a request that needs ``needed`` (both canonical):
    a ``pull,push`` token also pulls."""
    have: dict[str, set[str]] = {}
    for scope in granted:
        resource, _, names = scope.rpartition(":")
        have[resource] = set(names.split(","))
    for scope in needed:
        resource, _, names = scope.rpartition(":")
        held = have.get(resource)
        if held is None or not ("*" in held or set(names.split(",")) <= held):
            return False
    return True


@dataclass(slots=True)
class _HostState:
    scheme: str
    realm: str = ""
    service: str = ""
    learned: frozenset[str] | None = None
    """The scopes of a bearer challenge that a lean request met (:meth:`RegistryAuth.learn`):
    the flow's next request fetches their token first instead of meeting it again."""


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires: float


class RegistryAuth:
    """One per session: token cache per (realm, service, scopes), scheme per host. httpx runs
    its flow through :class:`httpclient.AuthFlow`; the lean path asks :meth:`preset`."""

    def __init__(self, credentials: CredentialLookup, fetch: Fetch,
                 realm_check: RealmCheck | None = None) -> None:
        self._lookup = credentials
        self._fetch = fetch
        self._realm_check = realm_check or _https_only
        self._credentials: dict[str, Credentials | None] = {}
        self._hosts: dict[str, _HostState] = {}
        self._tokens: dict[tuple[str, str, frozenset[str]], _Token] = {}
        self._locks: dict[tuple[str, str, frozenset[str]], asyncio.Lock] = {}
        self.token_requests = 0
        """How many tokens were fetched (tests and benchmarks count round trips)."""

    def __repr__(self) -> str:
        return f"RegistryAuth(hosts={sorted(self._hosts)})"

    async def credentials_for(self, host: str) -> Credentials | None:
        if host not in self._credentials:
            self._credentials[host] = await asyncio.to_thread(self._lookup, host)
        return self._credentials[host]

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        host = request.url.netloc.decode("ascii")
        credentials = await self.credentials_for(host)
        scopes = merge_scopes(request_scopes(request))
        sent = await self._apply_known(request, host, credentials, scopes)
        response = yield request
        if response.status_code != 401:
            return
        challenge = parse_challenge(response.headers.get("www-authenticate", ""))
        if challenge is None:
            return
        if challenge.scheme == "basic":
            if credentials is None or not credentials.has_password:
                return
            if sent == "basic":  # they were sent (the scheme was known): they are refused
                await response.aread()
                raise AuthError(f"wrong username or password ({credentials})", where=host,
                                status=401, code="UNAUTHORIZED")
            self._hosts[host] = _HostState("basic")
            request.headers["Authorization"] = credentials.basic()
            await response.aread()
            response = yield request
            if response.status_code == 401:
                await response.aread()
                raise AuthError(f"wrong username or password ({credentials})", where=host,
                                status=401, code="UNAUTHORIZED")
            return
        if challenge.scheme != "bearer" or not challenge.params.get("realm"):
            return
        state = _HostState("bearer", challenge.params["realm"], challenge.params.get("service", ""))
        self._hosts[host] = state
        wanted = merge_scopes([*scopes, *challenge.scopes])
        if sent == "bearer" and challenge.params.get("error") == "insufficient_scope":
            # the token we sent was issued for these scopes: ask once more, then give up
            self._tokens.pop((state.realm, state.service, wanted), None)
        await response.aread()
        token = await self._token(host, state, wanted, credentials, force=sent == "bearer")
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def learn(self, host: str, challenge_header: str) -> None:
        """Take the scheme of a ``401`` that a lean request got, as the flow would, so that
        the flow's first request already carries it: no second anonymous round trip. The
        flow still decides everything else (the token, its realm's check, a retry)."""
        challenge = parse_challenge(challenge_header)
        if host in self._hosts or challenge is None:
            return
        credentials = self._credentials.get(host)
        if challenge.scheme == "basic" and credentials is not None and credentials.has_password:
            self._hosts[host] = _HostState("basic")
        elif challenge.scheme == "bearer" and challenge.params.get("realm"):
            self._hosts[host] = _HostState("bearer", challenge.params["realm"],
                                           challenge.params.get("service", ""),
                                           learned=merge_scopes(challenge.scopes))

    def knows(self, host: str) -> bool:
        """Whether ``host``'s credentials were looked up (:meth:`credentials_for`)."""
        return host in self._credentials

    def preset(self, host: str, method: str, path: str) -> dict[str, str] | None:
        """The ``Authorization`` header (none: ``{}``) that the flow would send with ``method``
        on ``path`` of ``host`` now, for requests made outside httpx (the lean document path).

        ``None`` when only the flow can tell: a host not met yet (its credentials not looked
        up), or no live token for these scopes. The caller then sends through httpx, and a
        ``401`` to a preset request goes through the flow too: a challenge is always handled
        in one place.
        """
        if host not in self._credentials:
            return None
        state = self._hosts.get(host)
        if state is None:
            return {}
        credentials = self._credentials[host]
        if state.scheme == "basic":
            if credentials is None or not credentials.has_password:
                return None
            return {"Authorization": credentials.basic()}
        if state.scheme == "bearer":
            cached = self._cached_token(state, merge_scopes(scopes_for(method, path)))
            return None if cached is None else {"Authorization": f"Bearer {cached.value}"}
        return None

    async def _apply_known(self, request: httpx.Request, host: str,
                           credentials: Credentials | None, scopes: frozenset[str]) -> str:
        """Set the header we already know works for this host; which scheme was sent."""
        state = self._hosts.get(host)
        if state is None:
            return ""
        if state.scheme == "basic" and credentials is not None and credentials.has_password:
            request.headers["Authorization"] = credentials.basic()
            return "basic"
        if state.scheme == "bearer":
            cached = self._cached_token(state, scopes)
            if cached is not None:
                request.headers["Authorization"] = f"Bearer {cached.value}"
                return "bearer"
            if state.learned is not None:  # the challenge is known: its token first
                wanted, state.learned = merge_scopes([*scopes, *state.learned]), None
                token = await self._token(host, state, wanted, credentials, force=False)
                request.headers["Authorization"] = f"Bearer {token}"
                return "bearer"
        return ""

    def _cached_token(self, state: _HostState, scopes: frozenset[str]) -> _Token | None:
        """A live token issued for these scopes, or for a wider set that covers them."""
        now = time.monotonic()
        exact = self._tokens.get((state.realm, state.service, scopes))
        if exact is not None and exact.expires > now:
            return exact
        for (realm, service, granted), token in self._tokens.items():
            if (realm, service) == (state.realm, state.service) and token.expires > now \
                    and covers(granted, scopes):
                return token
        return None

    async def _token(self, host: str, state: _HostState, scopes: frozenset[str],
                     credentials: Credentials | None, *, force: bool) -> str:
        if credentials is not None and credentials.registry_token:
            return credentials.registry_token
        key = (state.realm, state.service, scopes)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(key)
            if cached is not None and cached.expires > time.monotonic() and not force:
                return cached.value
            value, lifetime = await self._request_token(host, state, scopes, credentials)
            margin = min(10.0, lifetime / 4)
            self._tokens[key] = _Token(value, time.monotonic() + lifetime - margin)
            self.token_requests += 1
            return value

    async def _request_token(self, host: str, state: _HostState, scopes: frozenset[str],
                             credentials: Credentials | None) -> tuple[str, float]:
        ordered = sorted(scopes)
        try:
            realm = httpx.URL(state.realm)
        except httpx.InvalidURL:
            raise AuthError("the registry named a malformed token server URL", where=host) from None
        if realm.scheme not in ("http", "https"):
            raise AuthError(f"the registry named a token server that is not HTTP(S) "
                            f"({realm.scheme}:); credentials are not sent there", where=host)
        if credentials is not None and (credentials.identity_token or credentials.has_password):
            refused = self._realm_check(host, realm)
            if refused is not None:
                raise AuthError(refused, where=host)
        if credentials is not None and credentials.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": credentials.identity_token,
                    "service": state.service, "client_id": CLIENT_ID, "scope": " ".join(ordered)}
            request = httpx.Request("POST", state.realm, data=form)
        else:
            params: list[tuple[str, str]] = []
            if state.service:
                params.append(("service", state.service))
            params += [("scope", scope) for scope in ordered]
            headers = {}
            if credentials is not None and credentials.has_password:
                params.append(("account", credentials.username or ""))
                headers["Authorization"] = credentials.basic()
            request = httpx.Request("GET", httpx.URL(state.realm, params=params), headers=headers)
        response, body = await self._fetch(request)
        if response.status_code in (401, 403):
            if credentials is not None:
                raise AuthError(f"wrong username or password: the token server refused them "
                                f"(HTTP {response.status_code}; {credentials})", where=host,
                                status=response.status_code, code="UNAUTHORIZED")
            raise AuthError("the registry requires credentials (anonymous token refused; use "
                            "docker login or --username/--password-stdin)", where=host,
                            status=response.status_code, code="UNAUTHORIZED")
        if response.status_code != 200:
            raise AuthError(f"token server answered HTTP {response.status_code}", where=host,
                            status=response.status_code)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise AuthError("token server sent malformed JSON", where=host) from None
        value = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(value, str) or not value:
            raise AuthError("token server sent no token", where=host)
        redact.remember(value)  # a token is a credential too: never printed
        lifetime = data.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else (
            DEFAULT_TOKEN_LIFETIME)
        return value, seconds


def _https_only(host: str, realm: httpx.URL) -> str | None:
    if realm.scheme == "https":
        return None
    return "the token server is not HTTPS; credentials are not sent there"

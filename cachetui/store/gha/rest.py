"""GitHub REST for the Actions cache: list entries (every page), usage, delete by key or id.

Shapes from GitHub's REST reference (``/repos/{owner}/{repo}/actions/caches``, ``.../cache/usage``);
rate limits and scopes as GitHub signals them (``x-ratelimit-*``, ``Retry-After``,
``X-OAuth-Scopes`` against ``X-Accepted-OAuth-Scopes``).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Final, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from cachetui.errors import NetworkError, NotFound
from cachetui.store.gha.credentials import Secret
from cachetui.store.gha.errors import GitHubAuthError, GitHubError, GitHubRateLimited
from cachetui.store.gha.inventory import EntryInfo
from cachetui.store.netreason import network_reason
from cachetui.store.tls import DEFAULT_TRUST, TlsContexts, fresh_context

PER_PAGE: Final = 100
PAGES_IN_FLIGHT: Final = 4
MAX_BODY: Final = 16 * 1024 * 1024
MAX_PAGES: Final = 2000
"""200,000 entries: far past any repository's 10 GB; a server paging forever stops here."""


class _Cache(msgspec.Struct):
    id: int
    key: str
    ref: str = ""
    version: str = ""
    size_in_bytes: int = 0
    created_at: str = ""
    last_accessed_at: str = ""


class _Page(msgspec.Struct):
    total_count: int
    actions_caches: list[_Cache]


class _Usage(msgspec.Struct):
    active_caches_size_in_bytes: int
    active_caches_count: int = 0


def _time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromtimestamp(0, UTC)


def _entry(item: _Cache) -> EntryInfo:
    return EntryInfo(item.id, item.key, item.ref, item.version, item.size_in_bytes,
                     _time(item.created_at), _time(item.last_accessed_at))


T = TypeVar("T")


class GitHubRest:
    """One repository's cache endpoints. ``token`` is never put in a message."""

    def __init__(self, api_url: str, repository: str, token: Secret | None, *,
                 client: httpx.AsyncClient | None = None, max_wait: float = 60.0,
                 attempts: int = 4, where: str | None = None,
                 tls: TlsContexts = fresh_context) -> None:
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self._token = token
        self._client = client or httpx.AsyncClient(verify=tls(DEFAULT_TRUST),
                                                   timeout=httpx.Timeout(60.0, connect=10.0))
        self._own_client = client is None
        self._max_wait = max_wait
        self._attempts = attempts
        self.requests = 0
        self._where = where

    @property
    def where(self) -> str:
        return self._where or f"gha://{self.repository}"

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    # -- endpoints ---------------------------------------------------------------------------

    async def list_entries(self, *, key: str | None = None, ref: str | None = None
                           ) -> list[EntryInfo]:
        """Every entry (all pages), oldest first so pages stay put while builds add entries."""
        params: dict[str, str] = {"per_page": str(PER_PAGE), "sort": "created_at",
                                  "direction": "asc"}
        if key:
            params["key"] = key
        if ref:
            params["ref"] = ref
        first = await self._page(params, 1)
        pages = min(max((first.total_count + PER_PAGE - 1) // PER_PAGE, 1), MAX_PAGES)
        limit = asyncio.Semaphore(PAGES_IN_FLIGHT)

        async def fetch(number: int) -> _Page:
            async with limit:
                return await self._page(params, number)

        rest = await asyncio.gather(*(fetch(n) for n in range(2, pages + 1)))
        seen: dict[int, EntryInfo] = {}
        for page in (first, *rest):
            for item in page.actions_caches:
                seen.setdefault(item.id, _entry(item))
        return list(seen.values())

    async def usage(self) -> int:
        raw = await self._request("GET", f"/repos/{self.repository}/actions/cache/usage")
        return self._decode(raw, _Usage).active_caches_size_in_bytes

    async def delete_id(self, entry_id: int) -> bool:
        """Delete one entry; ``False`` if it was already gone."""
        try:
            await self._request("DELETE", f"/repos/{self.repository}/actions/caches/{entry_id}")
        except NotFound:
            return False
        return True

    async def delete_key(self, key: str, ref: str | None = None) -> list[EntryInfo]:
        """Delete every entry with exactly ``key`` (in ``ref`` only, when given)."""
        query = f"?key={quote(key, safe='')}" + (f"&ref={quote(ref, safe='')}" if ref else "")
        try:
            raw = await self._request("DELETE", f"/repos/{self.repository}/actions/caches{query}")
        except NotFound:
            return []
        return [_entry(item) for item in self._decode(raw, _Page).actions_caches]

    # -- transport ---------------------------------------------------------------------------

    async def _page(self, params: dict[str, str], number: int) -> _Page:
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in {**params,
                                                                  "page": str(number)}.items())
        raw = await self._request("GET", f"/repos/{self.repository}/actions/caches?{query}")
        return self._decode(raw, _Page)

    def _decode(self, raw: bytes, kind: type[T]) -> T:
        try:
            return msgspec.json.decode(raw, type=kind)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise GitHubError(f"unexpected answer from GitHub: {exc}", where=self.where) from None

    async def _request(self, method: str, path: str) -> bytes:
        if self._token is None:
            raise GitHubAuthError(
                "no GitHub token: set GITHUB_TOKEN or GH_TOKEN, run `gh auth login`, or pass "
                "ghtoken= in the location", where=self.where)
        headers = {"Authorization": f"Bearer {self._token.reveal()}",
                   "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": "2022-11-28",
                   "User-Agent": "cachetui"}
        for attempt in range(1, self._attempts + 1):
            self.requests += 1
            try:
                response = await self._bounded(method, self.api_url + path, headers)
            except httpx.HTTPError as exc:
                if attempt == self._attempts:
                    raise NetworkError(f"cannot reach {self.api_url}: "
                                       f"{network_reason(exc)}", where=self.where) from None
                await asyncio.sleep(min(2.0 ** attempt * 0.1, 5.0))
                continue
            wait = self._retry_wait(response, attempt)
            if wait is None:
                return self._check(response, method)
            await asyncio.sleep(wait)
        raise GitHubError("GitHub kept failing", where=self.where)  # pragma: no cover

    async def _bounded(self, method: str, url: str, headers: dict[str, str]) -> httpx.Response:
        """The answer with its body read, refusing bodies over :data:`MAX_BODY` (a page of 100
        entries is about 30 KB; a hostile or broken server must not fill memory)."""
        request = self._client.build_request(method, url, headers=headers)
        response = await self._client.send(request, stream=True)
        try:
            body = bytearray()
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) > MAX_BODY:
                    raise GitHubError(f"GitHub's answer is over {MAX_BODY} bytes; refusing it",
                                      where=self.where)
        finally:
            await response.aclose()
        return httpx.Response(response.status_code, headers=response.headers,
                              content=bytes(body), request=request)

    def _retry_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before trying again, or ``None`` to answer now."""
        status = response.status_code
        if attempt >= self._attempts:
            return None
        if status >= 500:
            return min(0.2 * 2.0 ** attempt, 5.0)
        if status in (403, 429):
            if response.headers.get("x-ratelimit-remaining") == "0":
                return None  # the primary limit: waiting means an hour; say so instead
            retry_after = response.headers.get("retry-after")
            if retry_after is not None:
                try:
                    seconds = float(retry_after)
                except ValueError:
                    return None
                return seconds if seconds <= self._max_wait else None
            if status == 429:
                return min(2.0 ** attempt, self._max_wait)
        return None

    def _check(self, response: httpx.Response, method: str) -> bytes:
        status = response.status_code
        if 200 <= status < 300:
            return response.content
        headers = response.headers
        message = _message(response)
        if status == 401:
            raise GitHubAuthError(f"GitHub rejected the token ({message})", where=self.where)
        if status in (403, 429) and headers.get("x-ratelimit-remaining") == "0":
            raise GitHubRateLimited(_reset_text(headers.get("x-ratelimit-reset")),
                                    where=self.where)
        if status in (403, 429) and (headers.get("retry-after") or status == 429):
            wait = headers.get("retry-after")
            raise GitHubRateLimited(
                "GitHub's secondary rate limit: it asks to wait "
                f"{wait or 'a while'} seconds; try again later", where=self.where,
                wait_seconds=float(wait) if wait and wait.isdigit() else None)
        if status == 403:
            accepted = [s.strip() for s in headers.get("x-accepted-oauth-scopes", "").split(",")
                        if s.strip()]
            held = {s.strip() for s in headers.get("x-oauth-scopes", "").split(",") if s.strip()}
            missing = [scope for scope in accepted if scope not in held]
            if missing:
                have = ", ".join(sorted(held)) or "none"
                raise GitHubAuthError(
                    f"the GitHub token lacks the {' and '.join(missing)} scope that "
                    f"{'deleting' if method == 'DELETE' else 'reading'} needs "
                    f"(it has: {have})", where=self.where, scope=", ".join(missing))
            raise GitHubAuthError(f"GitHub refused: {message}", where=self.where)
        if status == 404:
            raise NotFound("not found (or the token cannot see this repository)",
                           where=self.where)
        raise GitHubError(f"GitHub answered {status}: {message}", where=self.where)


def _message(response: httpx.Response) -> str:
    try:
        body = msgspec.json.decode(response.content[:65536])
    except msgspec.DecodeError:
        return f"HTTP {response.status_code}"
    text = body.get("message") if isinstance(body, dict) else None
    return str(text)[:300] if text else f"HTTP {response.status_code}"


def _reset_text(reset: str | None) -> str:
    try:
        at = int(reset or "")
    except ValueError:
        return "GitHub's API rate limit for this token is used up; try again later"
    minutes = max(0, round((at - time.time()) / 60))
    clock = datetime.fromtimestamp(at, UTC).strftime("%H:%M UTC")
    return (f"GitHub's API rate limit for this token is used up; it resets at {clock} "
            f"(in about {minutes} min)")


__all__ = ["GitHubRest"]

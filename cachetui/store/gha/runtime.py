"""The runtime cache service a workflow step can reach with ``ACTIONS_RUNTIME_TOKEN``.

v2 (GitHub.com since April 2025): Twirp JSON ``GetCacheEntryDownloadURL``, ``CreateCacheEntry``,
``FinalizeCacheEntryUpload`` and the bytes through Azure SAS URLs (Put Blob / Put Block / Put
Block List, Get Blob). v1 (older GHES): ``_apis/artifactcache`` lookups, reserve, PATCH chunks,
commit, and a plain GET of ``archiveLocation``. The same calls BuildKit's client makes.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import httpx

from cachetui.errors import NetworkError, NotFound
from cachetui.store.base import CHUNK_SIZE
from cachetui.store.gha.credentials import Secret
from cachetui.store.gha.errors import GitHubAuthError, GitHubError, GitHubRateLimited
from cachetui.store.gha.keys import CACHE_VERSION
from cachetui.store.netreason import network_reason
from cachetui.store.tls import DEFAULT_TRUST, TlsContexts, fresh_context

TWIRP: Final = "twirp/github.actions.results.api.v1.CacheService/"
BLOCK_SIZE: Final = 4 * 1024 * 1024
V1_CHUNK: Final = 32 * 1024 * 1024
AZURE_VERSION: Final = "2024-11-04"
RATE_LIMIT_TRIES: Final = 4


class AlreadyExists(GitHubError):
    """A reserve found the key already taken in the writable ref."""


@dataclass(frozen=True, slots=True)
class Found:
    key: str
    url: str


class RuntimeCache:
    """One token's view of the cache service (its refs: read, and one writable)."""

    def __init__(self, url: str, token: Secret, version: int, *,
                 client: httpx.AsyncClient | None = None,
                 tls: TlsContexts = fresh_context) -> None:
        self.base = url if url.endswith("/") else url + "/"
        self.version = version
        self._token = token
        self._client = client or httpx.AsyncClient(verify=tls(DEFAULT_TRUST),
                                                   timeout=httpx.Timeout(300.0, connect=10.0))
        self._own = client is None
        self.where = "gha runtime cache"

    def token_text(self) -> str:
        return self._token.reveal()

    async def aclose(self) -> None:
        if self._own:
            await self._client.aclose()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.reveal()}", "User-Agent": "cachetui",
                "Accept": "application/json;api-version=6.0-preview.1"}

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; a 429 (the service's rate limit: nothing was done) is tried again after
        its ``Retry-After`` (at most a minute), as BuildKit's client backs off."""
        for attempt in range(1, RATE_LIMIT_TRIES + 1):
            try:
                response = await self._client.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                raise NetworkError(f"cannot reach the cache service: {network_reason(exc)}",
                                   where=self.where) from None
            if response.status_code != 429 or attempt == RATE_LIMIT_TRIES:
                break
            wait = response.headers.get("retry-after", "")
            seconds = float(wait) if wait.isdigit() else 2.0 ** attempt
            if seconds > 60:
                break
            await asyncio.sleep(seconds)
        if response.status_code == 429:
            raise GitHubRateLimited("the cache service's rate limit: try again later",
                                    where=self.where)
        if response.status_code == 401 and url.startswith(self.base):
            raise GitHubAuthError("the cache service refused the runtime token (expired? "
                                      "tokens last 6 hours)", where=self.where)
        return response

    def _fail(self, response: httpx.Response, what: str) -> GitHubError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        code = str(body.get("code") or body.get("typeKey") or "") if isinstance(body, dict) else ""
        text = str(body.get("msg") or body.get("message") or "") if isinstance(body, dict) else ""
        if response.status_code == 409 or code in ("already_exists",) or "AlreadyExists" in code:
            return AlreadyExists(f"{what}: already exists", where=self.where)
        return GitHubError(f"{what}: the cache service answered {response.status_code} "
                           f"{text[:200]}".rstrip(), where=self.where)

    # -- lookups -----------------------------------------------------------------------------

    async def lookup(self, keys: list[str]) -> Found | None:
        """The entry a build would get for ``keys`` (exact key, else the newest prefix match)."""
        if self.version == 2:
            body = {"key": keys[0], "restore_keys": keys, "version": CACHE_VERSION}
            response = await self._call("POST", self.base + TWIRP + "GetCacheEntryDownloadURL",
                                        headers={**self._headers(),
                                                 "Content-Type": "application/json"},
                                        content=json.dumps(body).encode())
            if response.status_code != 200:
                raise self._fail(response, f"lookup of {keys[0]}")
            answer = response.json()
            if not answer.get("ok"):
                return None
            return Found(str(answer["matched_key"]), str(answer["signed_download_url"]))
        response = await self._call("GET", self.base + "_apis/artifactcache/cache",
                                    params={"keys": ",".join(keys), "version": CACHE_VERSION},
                                    headers=self._headers())
        if response.status_code == 204 or not response.content:
            return None
        if response.status_code != 200:
            raise self._fail(response, f"lookup of {keys[0]}")
        answer = response.json()
        if not answer.get("cacheKey"):
            return None
        return Found(str(answer["cacheKey"]), str(answer["archiveLocation"]))

    async def download(self, found: Found) -> AsyncIterator[bytes]:
        """The entry's bytes in chunks (the signed URL needs no token)."""
        headers = {"x-ms-version": AZURE_VERSION} if self.version == 2 else {}
        try:
            async with self._client.stream("GET", found.url, headers=headers) as response:
                if response.status_code == 404:
                    raise NotFound(f"{found.key}: the entry's bytes are gone", where=self.where)
                if response.status_code != 200:
                    raise GitHubError(f"{found.key}: download answered {response.status_code}",
                                      where=self.where)
                async for chunk in response.aiter_bytes(CHUNK_SIZE):
                    yield chunk
        except httpx.HTTPError as exc:
            raise NetworkError(f"{found.key}: download broke: {type(exc).__name__}",
                               where=self.where) from None

    # -- writes ------------------------------------------------------------------------------

    async def save(self, key: str, chunks: AsyncIterable[bytes], *,
                   check: Any = None) -> None:
        """Reserve ``key``, upload, and commit only after ``check()`` (a digest verifier) passes:
        an entry with wrong bytes never becomes visible."""
        if self.version == 2:
            await self._save_v2(key, chunks, check)
        else:
            await self._save_v1(key, chunks, check)

    async def _twirp(self, method: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        response = await self._call("POST", self.base + TWIRP + method,
                                    headers={**self._headers(), "Content-Type": "application/json"},
                                    content=json.dumps(body).encode())
        if response.status_code != 200:
            raise self._fail(response, what)
        answer: dict[str, Any] = response.json()
        if not answer.get("ok"):
            raise GitHubError(f"{what}: the cache service said no", where=self.where)
        return answer

    async def _save_v2(self, key: str, chunks: AsyncIterable[bytes], check: Any) -> None:
        created = await self._twirp("CreateCacheEntry", {"key": key, "version": CACHE_VERSION},
                                    f"reserve {key}")
        url = str(created["signed_upload_url"])
        azure = {"x-ms-version": AZURE_VERSION}
        blocks: list[str] = []
        buffer = bytearray()
        size = 0

        async def put_block(data: bytes) -> None:
            block_id = base64.b64encode(f"cachetui-{len(blocks):010d}".encode()).decode()
            # Appended as text: re-encoding the SAS query (as params= would) can turn the
            # signature's %2B into a "+" the service reads as a space.
            response = await self._call("PUT", f"{url}&comp=block&blockid={quote(block_id, safe='')}",
                                        headers=azure, content=data)
            if response.status_code != 201:
                raise GitHubError(f"upload of {key}: block answered {response.status_code}",
                                  where=self.where)
            blocks.append(block_id)

        async for chunk in chunks:
            buffer += chunk
            size += len(chunk)
            while len(buffer) >= BLOCK_SIZE:
                await put_block(bytes(buffer[:BLOCK_SIZE]))
                del buffer[:BLOCK_SIZE]
        if check is not None:
            check()
        if not blocks:
            response = await self._call("PUT", url, headers={**azure, "x-ms-blob-type": "BlockBlob",
                                                              "Content-Type":
                                                                  "application/octet-stream"},
                                        content=bytes(buffer))
        else:
            if buffer:
                await put_block(bytes(buffer))
            xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BlockList>" + "".join(
                f"<Latest>{block}</Latest>" for block in blocks) + "</BlockList>"
            response = await self._call("PUT", f"{url}&comp=blocklist",
                                        headers={**azure, "Content-Type": "application/xml"},
                                        content=xml.encode())
        if response.status_code != 201:
            raise GitHubError(f"upload of {key} answered {response.status_code}",
                              where=self.where)
        await self._twirp("FinalizeCacheEntryUpload",
                          {"key": key, "size_bytes": size, "version": CACHE_VERSION},
                          f"commit {key}")

    async def _save_v1(self, key: str, chunks: AsyncIterable[bytes], check: Any) -> None:
        headers = {**self._headers(), "Content-Type": "application/json"}
        response = await self._call("POST", self.base + "_apis/artifactcache/caches",
                                    headers=headers,
                                    content=json.dumps({"key": key,
                                                        "version": CACHE_VERSION}).encode())
        if response.status_code not in (200, 201):
            raise self._fail(response, f"reserve {key}")
        cache_id = int(response.json().get("cacheId") or response.json().get("cacheID"))
        url = f"{self.base}_apis/artifactcache/caches/{cache_id}"
        offset = 0
        buffer = bytearray()

        async def patch(data: bytes) -> None:
            nonlocal offset
            answer = await self._call("PATCH", url, headers={
                **self._headers(), "Content-Type": "application/octet-stream",
                "Content-Range": f"bytes {offset}-{offset + len(data) - 1}/*"}, content=data)
            if answer.status_code not in (200, 204):
                raise self._fail(answer, f"upload of {key}")
            offset += len(data)

        async for chunk in chunks:
            buffer += chunk
            while len(buffer) >= V1_CHUNK:
                await patch(bytes(buffer[:V1_CHUNK]))
                del buffer[:V1_CHUNK]
        if buffer:
            await patch(bytes(buffer))
        if check is not None:
            check()
        answer = await self._call("POST", url, headers=headers,
                                  content=json.dumps({"size": offset}).encode())
        if answer.status_code not in (200, 204):
            raise self._fail(answer, f"commit {key}")

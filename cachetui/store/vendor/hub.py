"""Docker Hub deletes through Hub's API.

Docker's API reference (docker/docs ``content/reference/api/hub/latest.yaml``, served at
docs.docker.com/reference/api/hub/latest/) documents the two calls used to plan: a personal access
token (or password) is exchanged at ``POST /v2/auth/token`` (``{"identifier", "secret"}`` →
``access_token``, operation AuthCreateAccessToken) for a short-lived bearer, and tags are listed at
``GET /v2/namespaces/{namespace}/repositories/{repository}/tags`` (``page``, ``page_size`` up to
100, ``next``; operation ListRepositoryTags), each with its ``digest``. That reference documents no
way to delete a tag or a manifest: ``/v2/namespaces/…/tags/{tag}`` has GET and HEAD only, and the
old ``POST /v2/namespaces/{namespace}/delete-images`` is gone from it. The one delete Docker
publishes is its Hub CLI's (docker/hub-tool ``pkg/hub/tags.go``, ``DeleteTagURL``), which the
reference lists under Resources: ``DELETE /v2/repositories/{namespace}/{repository}/tags/{tag}/``
with the same bearer. Deleting a manifest by digest is deleting every tag that points at it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

import msgspec

if TYPE_CHECKING:
    import httpx
else:
    from cachetui.store.lazyhttpx import httpx

from cachetui.errors import AuthError, CachetuiError, NetworkError, NotFound
from cachetui.store.gha.credentials import Secret
from cachetui.store.gha.errors import GitHubRateLimited
from cachetui.store.netreason import network_reason

HUB_API: Final = "https://hub.docker.com"
MAX_PAGES: Final = 200


class _Tag(msgspec.Struct):
    name: str
    digest: str = ""


class _Tags(msgspec.Struct):
    results: list[_Tag]
    next: str | None = None


class HubError(CachetuiError):
    """Docker Hub's API answered with an error."""


class HubTags:
    """One Hub repository's tags (``namespace/repository``; official images are ``library``)."""

    def __init__(self, repository: str, username: str, secret: Secret, *,
                 api_url: str = HUB_API, client: httpx.AsyncClient | None = None,
                 max_wait: float = 60.0) -> None:
        namespace, _, name = repository.partition("/")
        self.namespace, self.name = (namespace, name) if name else ("library", namespace)
        self.api_url = api_url.rstrip("/")
        self._user = username
        self._secret = secret
        self._bearer: str | None = None
        self._client = client or httpx.AsyncClient(timeout=60.0)
        self._own = client is None
        self._max_wait = max_wait

    @property
    def where(self) -> str:
        return f"docker.io/{self.namespace}/{self.name}"

    async def _call(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        for attempt in range(3):
            try:
                response = await self._client.request(method, url, **kwargs)  # type: ignore[arg-type]
            except httpx.HTTPError as exc:
                raise NetworkError(f"cannot reach Docker Hub: {network_reason(exc)}",
                                   where=self.where) from None
            if response.status_code != 429:
                return response
            wait = response.headers.get("retry-after", "")
            seconds = float(wait) if wait.isdigit() else None
            if seconds is None or seconds > self._max_wait or attempt == 2:
                raise GitHubRateLimited(f"Docker Hub's API rate limit: it asks to wait "
                                        f"{wait or 'a while'} seconds", where=self.where,
                                        wait_seconds=seconds)
            await asyncio.sleep(seconds)
        raise HubError("Docker Hub kept refusing", where=self.where)  # pragma: no cover

    async def _auth(self) -> dict[str, str]:
        if self._bearer is None:
            response = await self._call("POST", f"{self.api_url}/v2/auth/token",
                                        json={"identifier": self._user,
                                              "secret": self._secret.reveal()})
            if response.status_code in (401, 403):
                raise AuthError("Docker Hub refused the credentials (use a personal access "
                                "token with delete permission)", where=self.where)
            if response.status_code != 200:
                raise HubError(f"Docker Hub login answered {response.status_code}",
                               where=self.where)
            self._bearer = str(response.json().get("access_token") or "")
        return {"Authorization": f"Bearer {self._bearer}"}

    def _base(self) -> str:
        """ListRepositoryTags (documented)."""
        return (f"{self.api_url}/v2/namespaces/{quote(self.namespace, safe='')}/repositories/"
                f"{quote(self.name, safe='')}/tags")

    def _tag_url(self, tag: str) -> str:
        """The tag delete of Docker's Hub CLI (hub-tool ``DeleteTagURL``; the trailing slash is
        part of it): the API reference documents none."""
        return (f"{self.api_url}/v2/repositories/{quote(self.namespace, safe='')}/"
                f"{quote(self.name, safe='')}/tags/{quote(tag, safe='')}/")

    async def tags(self) -> dict[str, str]:
        """Tag → digest."""
        out: dict[str, str] = {}
        url: str | None = f"{self._base()}?page_size=100"
        for _ in range(MAX_PAGES):
            if url is None:
                break
            if not url.startswith(self.api_url + "/"):
                raise HubError("Docker Hub's next page points at another host", where=self.where)
            response = await self._call("GET", url, headers=await self._auth())
            if response.status_code == 404:
                raise NotFound("no such repository on Docker Hub", where=self.where)
            if response.status_code != 200:
                raise HubError(f"listing tags answered {response.status_code}", where=self.where)
            page = msgspec.json.decode(response.content, type=_Tags)
            out.update({tag.name: tag.digest for tag in page.results})
            url = page.next
        return out

    async def delete_digest(self, digest: str, *, allowed_tags: frozenset[str] | None = None
                            ) -> tuple[str, ...]:
        """Delete every tag on ``digest``; refuse when one is outside ``allowed_tags``."""
        tags = sorted(name for name, at in (await self.tags()).items() if at == digest)
        if not tags:
            raise NotFound(f"no tag points at {digest}", where=self.where)
        if allowed_tags is not None and set(tags) - allowed_tags:
            extra = ", ".join(sorted(set(tags) - allowed_tags))
            raise HubError(f"{digest[:19]} now also carries {extra}, which the plan did not "
                           "list; not deleted", where=self.where)
        for tag in tags:
            response = await self._call("DELETE", self._tag_url(tag),
                                        headers=await self._auth())
            if response.status_code in (401, 403):
                raise AuthError("Docker Hub refused the delete: the token needs delete "
                                "permission (Read, Write & Delete)", where=self.where)
            if response.status_code not in (200, 202, 204, 404):
                raise HubError(f"deleting {tag} answered {response.status_code}",
                               where=self.where)
        return tuple(tags)

    async def aclose(self) -> None:
        if self._own:
            await self._client.aclose()

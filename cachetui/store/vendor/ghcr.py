"""GHCR deletes through the GitHub Packages API.

``ghcr.io/OWNER/NAME`` is the container package ``NAME`` (slashes kept, URL-encoded) of ``OWNER``,
an organization or a user. Its versions are listed by ``GET /{orgs|users}/OWNER/packages/
container/NAME/versions`` (``read:packages``); a version's ``name`` is the manifest digest and its
tags are in ``metadata.container.tags``. ``DELETE .../versions/{id}`` removes the manifest and so
every tag on it (``delete:packages``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final
from urllib.parse import quote

import msgspec

if TYPE_CHECKING:
    import httpx
else:
    from cachetui.store.lazyhttpx import httpx

from cachetui.errors import InvalidInput, NotFound
from cachetui.store.gha.credentials import Secret
from cachetui.store.gha.errors import GitHubAuthError, GitHubError

GHCR_HOST: Final = "ghcr.io"
MAX_PAGES: Final = 200


class _Container(msgspec.Struct):
    tags: list[str] = msgspec.field(default_factory=list)


class _Metadata(msgspec.Struct):
    container: _Container = msgspec.field(default_factory=_Container)


class _Version(msgspec.Struct):
    id: int
    name: str
    metadata: _Metadata = msgspec.field(default_factory=_Metadata)


class PackageVersion(msgspec.Struct, frozen=True):
    id: int
    digest: str
    tags: tuple[str, ...]


def package_of(repository: str) -> tuple[str, str]:
    """``OWNER/NAME...`` of a GHCR repository → (owner, package name)."""
    owner, _, name = repository.partition("/")
    if not owner or not name:
        raise InvalidInput(f"ghcr.io/{repository}: a GHCR image is ghcr.io/OWNER/NAME")
    return owner, name


class GhcrPackages:
    """One container package's versions. Reuses the GitHub REST transport (scopes, limits)."""

    def __init__(self, api_url: str, token: Secret | None, repository: str, *,
                 client: httpx.AsyncClient | None = None, max_wait: float = 60.0) -> None:
        # Here, not at the top: every registry store loads this module (vendor deletes are
        # offered on ghcr.io), and the REST client's modules are ~5 ms of each start-up.
        from cachetui.store.gha.rest import GitHubRest

        self.owner, self.package = package_of(repository)
        self._rest = GitHubRest(api_url, f"{GHCR_HOST}/{repository}", token, client=client,
                                max_wait=max_wait, where=f"{GHCR_HOST}/{repository}")
        self._kind: str | None = None

    @property
    def where(self) -> str:
        return f"{GHCR_HOST}/{self.owner}/{self.package}"

    def _path(self, kind: str) -> str:
        return f"/{kind}/{self.owner}/packages/container/{quote(self.package, safe='')}/versions"

    async def versions(self) -> list[PackageVersion]:
        """Every version of the package (organization first, then user)."""
        kinds = [self._kind] if self._kind else ["orgs", "users"]
        for kind in kinds:
            try:
                found = await self._all(kind)
            except NotFound:
                continue
            self._kind = kind
            return found
        raise NotFound(f"no container package {self.package!r} for {self.owner} (or the token "
                       "cannot see it)", where=self.where)

    async def _all(self, kind: str) -> list[PackageVersion]:
        out: list[PackageVersion] = []
        for page in range(1, MAX_PAGES + 1):
            raw = await self._rest._request("GET", f"{self._path(kind)}?per_page=100&page={page}")
            try:
                items = msgspec.json.decode(raw, type=list[_Version])
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise GitHubError(f"unexpected answer from GitHub: {exc}",
                                  where=self.where) from None
            out += [PackageVersion(v.id, v.name, tuple(v.metadata.container.tags)) for v in items]
            if len(items) < 100:
                break
        return out

    async def delete_digest(self, digest: str, *, allowed_tags: frozenset[str] | None = None
                            ) -> PackageVersion:
        """Delete the version whose name is ``digest``. With ``allowed_tags``, refuse when the
        version carries a tag outside it (a tag added after the plan would go too)."""
        versions = await self.versions()
        version = next((v for v in versions if v.digest == digest), None)
        if version is None:
            raise NotFound(f"no package version for {digest}", where=self.where)
        if allowed_tags is not None:
            extra = sorted(set(version.tags) - allowed_tags)
            if extra:
                raise GitHubError(f"{digest[:19]} now also carries {', '.join(extra)}, which the "
                                  "plan did not list; not deleted", where=self.where)
        assert self._kind is not None
        try:
            await self._rest._request("DELETE", f"{self._path(self._kind)}/{version.id}")
        except GitHubAuthError as exc:
            if exc.scope:
                raise GitHubAuthError(
                    f"deleting GHCR package versions needs a token with the {exc.scope} "
                    "scope (classic PAT: read:packages and delete:packages)",
                    where=self.where, scope=exc.scope) from None
            raise
        return version

    async def aclose(self) -> None:
        await self._rest.aclose()

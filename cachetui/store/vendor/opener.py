"""Which registries get vendor deletes, and the credentials each vendor API takes:
``ghcr.io`` → GitHub Packages API with the GitHub token (``GITHUB_TOKEN``, ``GH_TOKEN``,
``gh auth token``; the API base from ``GITHUB_API_URL``, else the config file's ``[github]
api_url``, as for ``gha://``); Docker Hub → Hub's API with the user and
password (a personal access token) ``docker login`` left in the docker config, or
``DOCKERHUB_USERNAME`` / ``DOCKERHUB_TOKEN``."""

from __future__ import annotations

import os
from collections.abc import Mapping

from cachetui.errors import AuthError
from cachetui.store.base import Store
from cachetui.store.gha.credentials import Secret, api_url, github_token
from cachetui.store.vendor.deleting import VendorDeleter, VendorDeletes
from cachetui.store.vendor.ghcr import GHCR_HOST, GhcrPackages
from cachetui.store.vendor.hub import HubTags

HUB_HOSTS = frozenset({"docker.io", "registry-1.docker.io", "index.docker.io",
                       "registry.hub.docker.com"})


class _Lazy:
    """Opens the vendor client on the first refused delete only (most runs never need it)."""

    def __init__(self, registry: str, repository: str, env: Mapping[str, str],
                 configured_api_url: str | None = None) -> None:
        self._registry = registry
        self._repository = repository
        self._env = env
        self._configured_api_url = configured_api_url
        self._opened: VendorDeleter | None = None

    @property
    def where(self) -> str:
        return f"{self._registry}/{self._repository}"

    def _open(self) -> VendorDeleter:
        if self._opened is None:
            if self._registry == GHCR_HOST:
                base = api_url(env=self._env, configured=self._configured_api_url)
                found = github_token(api_url=base, env=self._env)
                self._opened = GhcrPackages(base, found.token, self._repository)
            else:
                self._opened = _hub(self._repository, self._env)
        return self._opened

    async def delete_digest(self, digest: str, *,
                            allowed_tags: frozenset[str] | None = None) -> object:
        return await self._open().delete_digest(digest, allowed_tags=allowed_tags)

    async def aclose(self) -> None:
        if self._opened is not None:
            await self._opened.aclose()


def _hub(repository: str, env: Mapping[str, str]) -> HubTags:
    user = env.get("DOCKERHUB_USERNAME")
    secret = env.get("DOCKERHUB_TOKEN")
    if not (user and secret):
        from cachetui.store.registry.credentials import lookup

        found = lookup("docker.io")
        if found is not None and found.username and found.password:
            user, secret = found.username, found.password
    if not (user and secret):
        raise AuthError("Docker Hub deletes need a user and personal access token: `docker "
                        "login`, or DOCKERHUB_USERNAME and DOCKERHUB_TOKEN",
                        where=f"docker.io/{repository}")
    return HubTags(repository, user, Secret(secret, "docker config"))


def with_vendor_deletes(store: Store, registry: str, repository: str,
                        env: Mapping[str, str] | None = None, *,
                        configured_api_url: str | None = None) -> Store:
    """``store`` itself, or wrapped so refused deletes go through the vendor's API.
    ``configured_api_url``: the config file's ``[github] api_url`` (``GITHUB_API_URL`` wins)."""
    if registry != GHCR_HOST and registry not in HUB_HOSTS:
        return store
    deleter = _Lazy(registry, repository, os.environ if env is None else env,
                    configured_api_url)
    return VendorDeletes(store, deleter)

"""Prune on a registry that refuses the distribution DELETE, through the vendor's API: GHCR's
package versions (GitHub Packages API) and Docker Hub's tags, both in the emulator. Only the
planned versions go, collateral tags are listed, a tag added since the plan stops the delete,
missing scopes and rate limits are one clear line and tokens never show."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from cachetui.errors import AuthError
from cachetui.ops.policy import Policy
from cachetui.ops.prune import apply_prune, plan_prune
from cachetui.store.base import Store
from cachetui.store.gha.credentials import Secret
from cachetui.store.vendor.deleting import VendorDeletes
from cachetui.store.vendor.ghcr import GhcrPackages
from cachetui.store.vendor.hub import HubTags
from tests.gha_emulator.emulator import GitHubEmulator
from tests.registry_procs import RunningRegistry
from tests.test_prune_registry import digests, push_shared, repository

PACKAGES_TOKEN = "ghp_packagesReadDelete000000000000000"
READ_ONLY = "ghp_packagesReadOnly00000000000000000"
HUB_PAT = "dckr_pat_emulatorSecret0000"


@contextlib.asynccontextmanager
async def ghcr_store(emulator: GitHubEmulator, registry: RunningRegistry,
                     token: str = PACKAGES_TOKEN) -> AsyncIterator[tuple[Store, str, str]]:
    emulator.add_rest_token(PACKAGES_TOKEN, ("read:packages", "delete:packages"))
    emulator.add_rest_token(READ_ONLY, ("read:packages",))
    async with repository(registry.host, "ghcr") as store:
        await push_shared(store)
        repo = store.location.split("/", 1)[1]
        owner, package = repo.split("/", 1)
        tags = await digests(store)
        emulator.packages.add_version(owner, package, tags["cache-a"], ["cache-a", "cache-a-alias"])
        emulator.packages.add_version(owner, package, tags["other"], ["other"])
        deleter = GhcrPackages(emulator.url, Secret(token, "test"), repo, max_wait=0.2)
        yield VendorDeletes(store, deleter), owner, package
        await deleter.aclose()


def _versions(emulator: GitHubEmulator, owner: str, package: str) -> list[str]:
    return [str(v["name"]) for v in emulator.packages.versions[(owner, package)]]


async def test_ghcr_prune_deletes_only_the_planned_version(
        gha_emulator: GitHubEmulator, registry_nodelete: RunningRegistry) -> None:
    async with ghcr_store(gha_emulator, registry_nodelete) as (store, owner, package):
        before = await digests(store)
        plan = await plan_prune([(store, ["cache-a"])], Policy(include_shared_tags=True))
        [item] = plan.sources[0].items
        assert item.collateral == ("cache-a-alias",)
        result = await apply_prune({store.location: store}, plan)
        assert [(i.tag, i.status) for i in result.items] == [("cache-a", "deleted")]
        assert _versions(gha_emulator, owner, package) == [before["other"]]


async def test_ghcr_missing_delete_scope_is_named(
        gha_emulator: GitHubEmulator, registry_nodelete: RunningRegistry) -> None:
    async with ghcr_store(gha_emulator, registry_nodelete, READ_ONLY) as (store, owner, package):
        plan = await plan_prune([(store, ["other"])], Policy())
        result = await apply_prune({store.location: store}, plan)
        [outcome] = result.items
        assert outcome.status == "failed"
        assert "delete:packages" in outcome.message
        assert READ_ONLY not in outcome.message
        assert len(_versions(gha_emulator, owner, package)) == 2


async def test_ghcr_tag_added_after_the_plan_stops_the_delete(
        gha_emulator: GitHubEmulator, registry_nodelete: RunningRegistry) -> None:
    async with ghcr_store(gha_emulator, registry_nodelete) as (store, owner, package):
        plan = await plan_prune([(store, ["other"])], Policy())
        version = gha_emulator.packages.versions[(owner, package)][0]
        version["metadata"]["container"]["tags"].append("release")  # type: ignore[index]
        result = await apply_prune({store.location: store}, plan)
        assert result.items[0].status == "failed"
        assert "release" in result.items[0].message
        assert len(_versions(gha_emulator, owner, package)) == 2


async def test_ghcr_rate_limit_is_one_clear_failure(
        gha_emulator: GitHubEmulator, registry_nodelete: RunningRegistry) -> None:
    async with ghcr_store(gha_emulator, registry_nodelete) as (store, owner, package):
        plan = await plan_prune([(store, ["other"])], Policy())
        gha_emulator.secondary_limit(count=10, retry_after=120)
        result = await apply_prune({store.location: store}, plan)
        assert result.items[0].status == "failed"
        assert "secondary rate limit" in result.items[0].message
        assert len(_versions(gha_emulator, owner, package)) == 2


async def test_docker_hub_deletes_the_tags_on_the_digest(
        gha_emulator: GitHubEmulator, registry_nodelete: RunningRegistry) -> None:
    async with repository(registry_nodelete.host, "hub") as store:
        await push_shared(store)
        tags = await digests(store)
        gha_emulator.packages.hub_users["octocat"] = HUB_PAT
        # 120 other tags sort first: the planned ones are on the second page (100 a page).
        filler = {f"a-{i:03d}": "sha256:" + f"{i:064x}" for i in range(120)}
        gha_emulator.packages.hub_tags[("octocat", "cache")] = {**filler, **tags}
        hub = HubTags("octocat/cache", "octocat", Secret(HUB_PAT, "test"),
                      api_url=gha_emulator.url)
        wrapped = VendorDeletes(store, hub)
        try:
            plan = await plan_prune([(wrapped, ["cache-a"])],
                                    Policy(include_shared_tags=True))
            result = await apply_prune({wrapped.location: wrapped}, plan)
        finally:
            await hub.aclose()
        assert result.items[0].status == "deleted"
        remaining = {**filler, "other": tags["other"]}
        assert gha_emulator.packages.hub_tags[("octocat", "cache")] == remaining
        bad = HubTags("octocat/cache", "octocat", Secret("wrong", "test"), api_url=gha_emulator.url)
        try:
            with pytest.raises(AuthError) as refused:
                await bad.delete_digest(tags["other"])
        finally:
            await bad.aclose()
        assert "refused the credentials" in str(refused.value)
        assert "wrong" not in str(refused.value)
        assert gha_emulator.packages.hub_tags[("octocat", "cache")] == remaining


async def test_hub_emulator_serves_only_the_documented_tag_methods(
        gha_emulator: GitHubEmulator) -> None:
    """The API reference gives ``.../namespaces/{ns}/repositories/{repo}/tags/{tag}`` GET and HEAD
    only: a DELETE there is refused, so the client's delete must be the Hub CLI's path."""
    import httpx

    gha_emulator.packages.hub_users["octocat"] = HUB_PAT
    gha_emulator.packages.hub_tags[("octocat", "cache")] = {"v1": "sha256:" + "1" * 64}
    hub = HubTags("octocat/cache", "octocat", Secret(HUB_PAT, "test"), api_url=gha_emulator.url)
    try:
        headers = await hub._auth()
        async with httpx.AsyncClient() as client:
            tag_url = f"{hub._base()}/v1"
            assert (await client.get(tag_url, headers=headers)).json()["digest"] == "sha256:" + "1" * 64
            assert (await client.delete(tag_url, headers=headers)).status_code == 405
            assert gha_emulator.packages.hub_tags[("octocat", "cache")] != {}
        assert hub._tag_url("v1") == f"{gha_emulator.url}/v2/repositories/octocat/cache/tags/v1/"
        assert await hub.delete_digest("sha256:" + "1" * 64) == ("v1",)
    finally:
        await hub.aclose()
    assert gha_emulator.packages.hub_tags[("octocat", "cache")] == {}


async def test_ghcr_and_hub_repositories_get_vendor_deletes_others_do_not(
        registry: RunningRegistry) -> None:
    from cachetui.store.vendor.opener import with_vendor_deletes

    async with repository(registry.host, "plain") as store:
        assert with_vendor_deletes(store, registry.host, "x/y") is store
        wrapped = with_vendor_deletes(store, "ghcr.io", "octo-org/app")
        assert isinstance(wrapped, VendorDeletes)
        assert wrapped.location == store.location and wrapped.kind == "registry"
        assert isinstance(with_vendor_deletes(store, "docker.io", "octocat/app"), VendorDeletes)


async def test_ghcr_deletes_use_the_config_files_api_url(
        gha_emulator: GitHubEmulator, registry_nodelete: RunningRegistry,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """GHES users name their API once, in ``[github] api_url``: GHCR deletes go there when
    ``GITHUB_API_URL`` is unset (without it they would go to api.github.com)."""
    from cachetui.config import parse_config
    from cachetui.locations import parse_location
    from cachetui.locations.workspace import Workspace
    from cachetui.store.vendor.opener import with_vendor_deletes

    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", PACKAGES_TOKEN)
    config = parse_config(f'[github]\napi_url = "{gha_emulator.url}/"\n')
    gha_emulator.add_rest_token(PACKAGES_TOKEN, ("read:packages", "delete:packages"))
    # The opener hands the setting on (checked before any request to ghcr.io).
    opened = Workspace(config).open(parse_location("ghcr.io/octo-org/app"))
    assert isinstance(opened, VendorDeletes)
    deleter = opened._deleter._open()  # type: ignore[attr-defined]
    try:
        assert isinstance(deleter, GhcrPackages)
        assert deleter._rest.api_url == gha_emulator.url
    finally:
        await opened.aclose()
    # And a prune through it deletes the planned version in the emulator.
    async with repository(registry_nodelete.host, "ghcr") as store:
        await push_shared(store)
        repo = store.location.split("/", 1)[1]
        owner, package = repo.split("/", 1)
        tags = await digests(store)
        gha_emulator.packages.add_version(owner, package, tags["other"], ["other"])
        wrapped = with_vendor_deletes(store, "ghcr.io", repo,
                                      configured_api_url=config.github.api_url)
        plan = await plan_prune([(wrapped, ["other"])], Policy())
        result = await apply_prune({wrapped.location: wrapped}, plan)
        await wrapped._deleter.aclose()  # type: ignore[attr-defined]
        assert [(i.tag, i.status) for i in result.items] == [("other", "deleted")]
        assert _versions(gha_emulator, owner, package) == []


async def test_hub_rate_limit_is_one_clear_failure_and_deletes_nothing(
        gha_emulator: GitHubEmulator, registry_nodelete: RunningRegistry) -> None:
    async with repository(registry_nodelete.host, "hub") as store:
        await push_shared(store)
        tags = await digests(store)
        gha_emulator.packages.hub_users["octocat"] = HUB_PAT
        gha_emulator.packages.hub_tags[("octocat", "cache")] = dict(tags)
        hub = HubTags("octocat/cache", "octocat", Secret(HUB_PAT, "test"),
                      api_url=gha_emulator.url, max_wait=0.2)
        wrapped = VendorDeletes(store, hub)
        try:
            plan = await plan_prune([(wrapped, ["other"])], Policy())
            gha_emulator.hub_limit(count=10, retry_after=120)
            result = await apply_prune({wrapped.location: wrapped}, plan)
        finally:
            await hub.aclose()
        [outcome] = result.items
        assert outcome.status == "failed"
        assert "Docker Hub's API rate limit" in outcome.message and "120" in outcome.message
        assert "\n" not in outcome.message and HUB_PAT not in outcome.message
        assert gha_emulator.packages.hub_tags[("octocat", "cache")] == tags

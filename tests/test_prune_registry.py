"""Pruning registry repositories: manifests deleted by digest, collateral tags, refused deletes."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cachetui.cli import main
from cachetui.errors import NotFound
from cachetui.oci.reference import parse_reference
from cachetui.ops.policy import Policy
from cachetui.ops.prune import apply_prune, plan_prune
from cachetui.ops.prune_targets import REGISTRY_GC_NOTE
from cachetui.store.base import Store
from cachetui.store.registry import RegistrySession
from tests.fixtures import fixture_dir
from tests.prune_support import cache_manifest, write_index
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, push_layout, unique_repo

NOW = datetime.now(UTC)
MULTI = fixture_dir("buildkit", "local-multi-tag")


@contextlib.asynccontextmanager
async def repository(host: str, prefix: str) -> AsyncIterator[Store]:
    async with RegistrySession(fast_settings()) as session:
        yield session.repository(parse_reference(f"{host}/{unique_repo(prefix)}",
                                                 default_tag=False))


async def push_shared(store: Store) -> None:
    """cache-a and cache-a-alias on one manifest; other on a second one."""
    await push_layout(store, MULTI, "cache-a", "main")
    await push_layout(store, MULTI, "cache-a-alias", "main")
    await push_layout(store, MULTI, "other", "feature-x")


async def digests(store: Store) -> dict[str, str]:
    return {tag: (await store.resolve(tag)).digest for tag in await store.list_tags()}


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


async def test_shared_digest_is_collateral_and_nothing_is_deleted_without_confirmation(
        registry: RunningRegistry) -> None:
    async with repository(registry.host, "prune-shared") as store:
        await push_shared(store)
        before = await digests(store)
        plan = await plan_prune([(store, ["cache-a"])], Policy())
        [item] = plan.sources[0].items
        assert item.collateral == ("cache-a-alias",)
        # The plan names the shared tag; only the CLI adds its flag (the TUI has a checkbox).
        assert item.blocked is not None and "cache-a-alias" in item.blocked
        assert item.needs_shared_tags
        assert plan.sources[0].total_bytes == 0
        result = await apply_prune({store.location: store}, plan)
        assert [(i.tag, i.status) for i in result.items] == [("cache-a", "skipped")]
        assert await digests(store) == before


async def test_include_shared_tags_deletes_the_manifest_and_its_collateral(
        registry: RunningRegistry) -> None:
    async with repository(registry.host, "prune-include") as store:
        await push_shared(store)
        before = await digests(store)
        plan = await plan_prune([(store, ["cache-a"])], Policy(include_shared_tags=True))
        source = plan.sources[0]
        [item] = source.items
        assert item.blocked is None and item.collateral == ("cache-a-alias",)
        # Blobs only cache-a's manifest uses: manifest, config, one layer (the rest is shared).
        assert item.frees_blobs == 3
        assert REGISTRY_GC_NOTE in source.notes
        result = await apply_prune({store.location: store}, plan)
        assert result.ok
        assert result.items[0].message == "also removed tags cache-a-alias"
        assert await store.list_tags() == ["other"]
        assert await digests(store) == {"other": before["other"]}
        with pytest.raises(NotFound):
            await store.get_manifest(before["cache-a"])


async def test_protected_collateral_blocks_even_with_include_shared_tags(
        registry: RunningRegistry) -> None:
    async with repository(registry.host, "prune-protect") as store:
        await push_shared(store)
        plan = await plan_prune([(store, ["cache-a"])],
                                Policy(include_shared_tags=True, protect=("cache-a-alias",)))
        [item] = plan.sources[0].items
        assert item.blocked is not None and "cache-a-alias" in item.blocked
        await apply_prune({store.location: store}, plan)
        assert len(await store.list_tags()) == 3


async def test_two_selected_tags_on_one_manifest_need_one_delete(registry: RunningRegistry) -> None:
    async with repository(registry.host, "prune-both") as store:
        await push_shared(store)
        plan = await plan_prune([(store, ["cache-a", "cache-a-alias"])], Policy())
        first, second = plan.sources[0].items
        assert first.collateral == second.collateral == ()
        assert second.same_manifest_as == "cache-a"
        result = await apply_prune({store.location: store}, plan)
        assert [(i.tag, i.status) for i in result.items] == [("cache-a", "deleted"),
                                                               ("cache-a-alias", "deleted")]
        assert await store.list_tags() == ["other"]


async def test_refused_deletes_say_what_to_do_and_every_item_is_reported(
        registry_nodelete: RunningRegistry) -> None:
    async with repository(registry_nodelete.host, "prune-405") as store:
        await push_shared(store)
        plan = await plan_prune([(store, ["cache-a", "other"])], Policy(include_shared_tags=True))
        result = await apply_prune({store.location: store}, plan)
        statuses = [(i.tag, i.status) for i in result.items]
        assert statuses == [("cache-a", "failed"), ("other", "failed")]
        for item in result.items:
            assert "405 UNSUPPORTED" in item.message
            assert "storage.delete.enabled" in item.message
            assert "vendor's API" in item.message
        assert not result.ok
        assert len(await store.list_tags()) == 3


async def test_policy_over_registry_tags_counts_shared_blobs_once(
        registry: RunningRegistry, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    base = b"shared base layer" * 100
    tags = {f"pr-{age}": cache_manifest(layout, [base, f"own-{age}".encode() * 50],
                                        NOW - timedelta(days=age), salt=str(age))
            for age in (1, 5, 9)}
    write_index(layout, tags)
    async with repository(registry.host, "prune-policy") as store:
        for tag in tags:
            await push_layout(store, layout, tag)
        plan = await plan_prune([(store, [])], Policy(keep=1, match=("pr-*",)))
        source = plan.sources[0]
        assert [i.tag for i in source.items] == ["pr-5", "pr-9"]
        assert all(i.rule == "keep 1" and i.collateral == () for i in source.items)
        # The shared base survives with pr-1: each item frees its manifest, config and own layer.
        assert [i.frees_blobs for i in source.items] == [3, 3]
        result = await apply_prune({store.location: store}, plan)
        assert result.ok
        assert await store.list_tags() == ["pr-1"]


def test_prune_cli_on_a_registry(registry: RunningRegistry) -> None:
    import asyncio

    async def setup() -> str:
        async with repository(registry.host, "prune-cli") as store:
            await push_shared(store)
            return store.location

    location = asyncio.run(setup())
    code, out = run_cli("prune", f"{location}:cache-a", "--yes")
    assert code == 3
    assert "BLOCKED" in out and "cache-a-alias" in out and "--include-shared-tags" in out
    code, out = run_cli("prune", f"{location}:cache-a", "--yes", "--include-shared-tags", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["plan"]["sources"][0]["items"][0]["collateral"] == ["cache-a-alias"]
    assert data["result"]["sources"][0]["items"][0]["status"] == "deleted"
    code, out = run_cli("ls", location, "--json")
    assert [row["tag"] for row in json.loads(out)] == ["other"]

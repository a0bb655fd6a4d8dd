"""Pruning a gha cache: superseded generations go and nothing else; the newest index and every
blob it names still read back verified; ref rules, orphans and failures as planned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cachetui.buildkit.annotated import annotated_document
from cachetui.ops.gha_prune import GhaRules, apply_gha_prune, plan_gha_prune
from tests.gha_emulator.emulator import GitHubEmulator
from tests.gha_emulator.fixture import MAIN, READONLY_TOKEN, REPOSITORY, load_dump
from tests.gha_emulator.tokens import READ, WRITE
from tests.gha_support import PR7, gha_store


async def test_superseded_generations_and_nothing_else(gha_emulator: GitHubEmulator) -> None:
    load_dump(gha_emulator, "v2-generations")
    store = gha_store(gha_emulator)
    try:
        plan = plan_gha_prune(store.location, await store.inventory(),
                              GhaRules(superseded=True))
        assert [item.entry.key for item in plan.items] == ["index-app-1-f921bd05#1",
                                                           "index-app-1-f921bd05#2"]
        assert plan.total_bytes == 3041 + 3051
        result = await apply_gha_prune(store.rest, plan)
        assert result.ok and result.freed_bytes == 3041 + 3051
        inventory = await store.inventory(refresh=True)
        assert [e.key for _, e in inventory.caches[0].generations] == ["index-app-1-f921bd05#3"]
        assert len(inventory.blobs) == 6
        top = await store.get_manifest(f"app@{MAIN}")
        document = annotated_document(await store.read_entry("index-app-1-f921bd05#3",
                                                             limit=1 << 20))
        assert top.digest == (await store.resolve(f"app@{MAIN}")).digest
        for layer in document.layers:
            data = await store.read_blob(layer, limit=1 << 24)  # verified digest and size
            assert len(data) == layer.size
    finally:
        await store.aclose()


async def test_dry_plan_deletes_nothing(gha_emulator: GitHubEmulator) -> None:
    load_dump(gha_emulator, "v2-generations")
    store = gha_store(gha_emulator, runtime=False)
    try:
        plan_gha_prune(store.location, await store.inventory(), GhaRules(superseded=True))
        assert len((await store.inventory(refresh=True)).entries) == 9
    finally:
        await store.aclose()


async def test_refs_by_pattern_and_age_spare_excluded(gha_emulator: GitHubEmulator) -> None:
    load_dump(gha_emulator, "v2-two-scopes")
    store = gha_store(gha_emulator, runtime=False)
    later = datetime(2026, 12, 30, tzinfo=UTC)
    try:
        inventory = await store.inventory()
        prs = plan_gha_prune(store.location, inventory,
                             GhaRules(match=("refs/pull/*",), older_than=timedelta(days=14)),
                             now=later)
        assert {item.entry.ref for item in prs.items} == {PR7}
        assert len(prs.items) == 5  # 2 index generations + 3 blobs of the PR
        too_young = plan_gha_prune(store.location, inventory,
                                   GhaRules(older_than=timedelta(days=14)))
        assert too_young.items == []
        spared = plan_gha_prune(store.location, inventory,
                                GhaRules(older_than=timedelta(days=1), exclude=(MAIN,)),
                                now=later)
        assert {item.entry.ref for item in spared.items} == {PR7}
    finally:
        await store.aclose()


async def test_orphans_need_contents_and_then_are_planned(gha_emulator: GitHubEmulator) -> None:
    load_dump(gha_emulator, "v2-generations")
    store = gha_store(gha_emulator, scopes=((MAIN, READ | WRITE),))
    rest_only = gha_store(gha_emulator, runtime=False)
    try:
        blind = plan_gha_prune(rest_only.location, await rest_only.inventory(),
                               GhaRules(orphans=True), findings=await rest_only.findings())
        assert blind.items == [] and blind.problems
        first = plan_gha_prune(store.location, await store.inventory(), GhaRules(superseded=True))
        await apply_gha_prune(store.rest, first)
        await store.inventory(refresh=True)
        findings = await store.findings()
        orphans = plan_gha_prune(store.location, await store.inventory(),
                                 GhaRules(orphans=True), findings=findings)
        # #1's three layers were named only by the pruned generation
        assert sorted(item.entry.size for item in orphans.items) == [214, 155434, 248832]
    finally:
        await store.aclose()
        await rest_only.aclose()


async def test_missing_delete_scope_fails_every_item_with_one_clear_reason(
        gha_emulator: GitHubEmulator) -> None:
    load_dump(gha_emulator, "v2-generations")
    store = gha_store(gha_emulator, runtime=False, token=READONLY_TOKEN)
    try:
        plan = plan_gha_prune(store.location, await store.inventory(), GhaRules(superseded=True))
        result = await apply_gha_prune(store.rest, plan)
    finally:
        await store.aclose()
    assert [o.status for o in result.outcomes] == ["failed", "failed"]
    assert "lacks the repo scope" in result.outcomes[0].message
    assert len(gha_emulator.repository(REPOSITORY).committed()) == 9

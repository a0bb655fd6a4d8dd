"""Every gha fixture loaded into the emulator lists with the scopes, refs, generations and bytes
of EXPECTED.json over REST alone; with a runtime token its indexes give the same analysis as any
other cache, plus orphaned, only-superseded and evicted blobs."""

from __future__ import annotations

import pytest

from cachetui.buildkit.analysis import analyse
from cachetui.buildkit.annotated import annotated_document
from cachetui.ops.inventory import collect, scan_store
from cachetui.store.gha.inventory import content_findings
from cachetui.store.gha.keys import blob_digest, parse_index_key
from tests.backend_fixtures import facts, variants
from tests.gha_emulator.emulator import GitHubEmulator
from tests.gha_emulator.fixture import MAIN, load_dump
from tests.gha_emulator.tokens import READ, WRITE
from tests.gha_support import PR7, gha_store

GHA = variants("gha")


def _scopes(variant: str) -> tuple[tuple[str, int], ...]:
    return ((MAIN, READ), (PR7, READ | WRITE)) if variant == "v2-two-scopes" else \
        ((MAIN, READ | WRITE),)


@pytest.mark.parametrize("variant", GHA)
async def test_rest_inventory_matches_expected(gha_emulator: GitHubEmulator, variant: str) -> None:
    load_dump(gha_emulator, variant)
    info = facts("gha", variant)
    store = gha_store(gha_emulator, runtime=False)
    try:
        inventory = await store.inventory()
    finally:
        await store.aclose()
    assert len(inventory.entries) == info["entryCount"]
    assert inventory.total_bytes == info["totalBytes"]
    assert inventory.usage_bytes == info["totalBytes"]
    assert len(inventory.blobs) == info["blobEntryCount"]
    assert inventory.blob_bytes == info["blobBytes"]
    assert sorted({ref.ref for ref in inventory.per_ref()}) == sorted(info["refs"])
    got = {
        (cache.scope, cache.ref, cache.signed): (
            [parse_index_key(e.key).generation for _, e in cache.generations],  # type: ignore[union-attr]
            cache.current.key, sorted(e.key for e in cache.superseded), cache.hash_matches_ref)
        for cache in inventory.caches
    }
    want = {
        (index["cacheScope"], index["ref"], index["signed"]): (
            index["generations"], index["currentGeneration"],
            sorted(index["supersededGenerations"]), index["refHashMatchesRef"])
        for index in info["indexes"]
    }
    assert got == want


@pytest.mark.parametrize("variant", GHA)
async def test_runtime_reads_give_expected_analysis_and_findings(
        gha_emulator: GitHubEmulator, variant: str) -> None:
    load_dump(gha_emulator, variant)
    info = facts("gha", variant)
    version = 1 if variant.startswith("v1") else 2
    store = gha_store(gha_emulator, version=version, scopes=_scopes(variant))
    try:
        inventory = await store.inventory()
        references: dict[int, tuple[str, ...]] = {}
        for cache in inventory.caches:
            for _, entry in cache.generations:
                raw = await store.read_entry(entry.key, limit=1 << 24, size=entry.size)
                document = annotated_document(raw)
                references[entry.id] = tuple(layer.digest for layer in document.layers)
                expected_entry = next(e for index in info["indexes"] for e in index["entries"]
                                      if e["key"] == entry.key and e["id"] == entry.id)
                analysis = analyse(document)
                assert analysis.layer_count == expected_entry["layerCount"]
                assert analysis.record_count == expected_entry["recordCount"]
                assert analysis.minmax.min_bytes == expected_entry["minEstimate"]["bytes"]
                assert analysis.minmax.delta_bytes == expected_entry["maxOverMinBytes"]
        findings = content_findings(inventory, references)
    finally:
        await store.aclose()
    assert sorted(blob_digest(e.key) or "" for e in findings.orphaned) == \
        sorted(b if isinstance(b, str) else b["key"].removeprefix("buildkit-blob-1-")
               for b in info["orphanedBlobs"])
    assert findings.orphaned_bytes == info["orphanedBytes"]
    assert sorted(e.key for e in findings.only_superseded) == \
        sorted(x["key"] for x in info["onlyInSupersededGenerations"])
    assert all(not health.evicted for health in findings.health)


async def test_store_scan_gives_every_cache_an_analysis(gha_emulator: GitHubEmulator) -> None:
    load_dump(gha_emulator, "v2-two-scopes")
    store = gha_store(gha_emulator, scopes=_scopes("v2-two-scopes"))
    try:
        entries, errors, _ = await collect(scan_store(store))
    finally:
        await store.aclose()
    assert errors == []
    assert sorted(e.tag for e in entries) == [f"app@{MAIN}", f"app@{PR7}"]
    assert all(e.analysis is not None and e.analysis.layer_count == 3 for e in entries)


async def test_an_evicted_blob_is_named_per_index(gha_emulator: GitHubEmulator) -> None:
    load_dump(gha_emulator, "v2-max")
    repo = gha_emulator.repository("octo-org/cachetest")
    victim = next(e for e in repo.entries if e.key.endswith(
        "f3743353a56e873873f1d560a524fe4c7f7e255faa9118548b02ed435f826fe1"))
    gha_emulator.delete_entry(repo, victim)
    store = gha_store(gha_emulator)
    try:
        inventory = await store.inventory()
        cache = inventory.caches[0]
        raw = await store.read_entry(cache.current.key, limit=1 << 24)
        document = annotated_document(raw)
        findings = content_findings(inventory, {cache.current.id: tuple(
            layer.digest for layer in document.layers)})
    finally:
        await store.aclose()
    assert findings.health[0].evicted == (
        "sha256:f3743353a56e873873f1d560a524fe4c7f7e255faa9118548b02ed435f826fe1",)


async def test_runtime_rate_limit_is_waited_out_then_reported(
        gha_emulator: GitHubEmulator) -> None:
    from cachetui.store.gha.errors import GitHubRateLimited

    load_dump(gha_emulator, "v2-min")
    store = gha_store(gha_emulator)
    twirp = "/twirp/"
    try:
        gha_emulator.fail(lambda r: r.path.startswith(twirp), 429, count=1,
                          headers=[("Retry-After", "0")])
        raw = await store.read_entry("index-buildkit-1-f921bd05#1", limit=1 << 20)
        assert raw.startswith(b'{"layers"')
        gha_emulator.fail(lambda r: r.path.startswith(twirp), 429, count=10,
                          headers=[("Retry-After", "600")])
        with pytest.raises(GitHubRateLimited):
            await store.read_entry("index-buildkit-1-f921bd05#1", limit=1 << 20)
    finally:
        await store.aclose()

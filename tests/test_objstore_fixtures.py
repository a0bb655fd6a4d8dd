"""Every real s3/azblob export, loaded into moto / Azurite, lists and measures as EXPECTED.json says."""

from __future__ import annotations

from typing import Any

import pytest

from cachetui.ops.load import load_cache
from cachetui.ops.objscan import PrefixReport, scan_prefix
from cachetui.store.objects import ObjectStore
from tests.backend_fixtures import facts, variants
from tests.objstore_procs import Azurite, Moto
from tests.objstore_servers import az_loaded, s3_loaded


def _prefix_args(info: dict[str, Any]) -> dict[str, Any]:
    return {"prefix": info["prefix"], "manifests_prefix": info["manifestsPrefix"],
            "blobs_prefix": info["blobsPrefix"]}


async def _check(store: ObjectStore, info: dict[str, Any]) -> PrefixReport:
    names = [m["name"] for m in info["manifests"]]
    assert await store.list_tags() == sorted(names)
    for manifest in info["manifests"]:
        analysis = await load_cache(store, manifest["name"])
        assert analysis.layer_count == manifest["layerCount"]
        assert analysis.record_count == manifest["recordCount"]
        assert analysis.records_with_results == manifest["recordsWithResults"]
        assert analysis.size_bytes == manifest["uniqueLayerBytes"]
        assert analysis.minmax.min_bytes == manifest["minEstimate"]["bytes"]
        assert analysis.minmax.delta_bytes == manifest["maxOverMinBytes"]
    report = await scan_prefix(store)
    assert [m.key for m in report.manifests] == [m["key"] for m in info["manifests"]]
    assert [o.key for o in report.orphans] == [o["key"] for o in info["orphanedBlobs"]]
    assert [o.size for o in report.orphans] == [o["size"] for o in info["orphanedBlobs"]]
    assert report.orphaned_bytes == info["orphanedBytes"]
    assert [{"key": k, "referencedBy": v} for k, v in report.dangling.items()] \
        == info["danglingReferences"]
    assert list(report.shared) == info["sharedBlobs"]
    assert len(report.blobs) == info["blobCount"]
    for manifest, want in zip(report.manifests, info["manifests"], strict=True):
        assert [x.digest for x in manifest.missing] == sorted(want["danglingReferences"])
    return report


@pytest.mark.parametrize("variant", variants("s3"))
async def test_s3_fixture_in_moto_matches_expected(moto: Moto, variant: str) -> None:
    info = facts("s3", variant)
    store = s3_loaded(moto, variant, **_prefix_args(info))
    try:
        await _check(store, info)
    finally:
        await store.aclose()


@pytest.mark.parametrize("variant", variants("azblob"))
async def test_azblob_fixture_in_azurite_matches_expected(azurite: Azurite, variant: str) -> None:
    info = facts("azblob", variant)
    store = await az_loaded(azurite, variant, **_prefix_args(info))
    try:
        await _check(store, info)
    finally:
        await store.aclose()


async def test_dangling_reference_names_the_records_that_will_miss(moto: Moto) -> None:
    info = facts("s3", "dangling")
    store = s3_loaded(moto, "dangling")
    try:
        report = await scan_prefix(store)
        (manifest,) = report.manifests
        assert {x.key for x in manifest.missing} == {d["key"] for d in info["deletedByHand"]}
        for missing in manifest.missing:
            assert missing.records, missing.key
            assert missing.layers
        assert report.to_json()["danglingReferences"] == info["danglingReferences"]
    finally:
        await store.aclose()


async def test_a_name_filter_lists_only_that_manifest(moto: Moto) -> None:
    store = s3_loaded(moto, "multi-name", prefix="proj/", names=("pr-42",))
    try:
        assert await store.list_tags() == ["pr-42"]
    finally:
        await store.aclose()

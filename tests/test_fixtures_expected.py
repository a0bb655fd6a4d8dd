"""Every real BuildKit export is classified and measured exactly as its EXPECTED.json says."""

from __future__ import annotations

from typing import Any

import pytest

from cachetui.buildkit.analysis import CacheAnalysis, LayerRole
from cachetui.buildkit.diff import diff_caches
from cachetui.ops.inventory import collect, scan_store
from cachetui.ops.load import load_cache
from cachetui.store.layout import LayoutStore
from tests.fixtures import GROUPS, expected, fixture_dir, layout_names

DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
IMAGE_CONFIGS = ("application/vnd.oci.image.config.v1+json",
                 "application/vnd.docker.container.image.v1+json")

CASES = [
    (group, name, tag["tag"])
    for group in GROUPS
    for name in layout_names(group)
    for tag in expected(group)["fixtures"][name]["tags"]
]


def expected_tag(group: str, name: str, tag: str) -> dict[str, Any]:
    tags = expected(group)["fixtures"][name]["tags"]
    return next(t for t in tags if t["tag"] == tag)


def expected_format(info: dict[str, Any]) -> str:
    if info["mediaType"] == DOCKER_LIST:
        return "docker-list"
    if "inlineCache" in info:
        return "inline"
    if info["config"]["mediaType"] in IMAGE_CONFIGS:
        return "image"
    return str(info["format"])


async def analysed(group: str, name: str, tag: str) -> CacheAnalysis:
    return await load_cache(LayoutStore(fixture_dir(group, name)), tag)


@pytest.mark.parametrize(("group", "name", "tag"), CASES)
async def test_fixture_matches_expected(group: str, name: str, tag: str) -> None:
    info = expected_tag(group, name, tag)
    analysis = await analysed(group, name, tag)
    document = analysis.document

    assert document.top.digest == info["digest"]
    assert document.top.media_type == info["mediaType"]
    assert len(document.top.raw) == info["size"]
    assert str(document.format) == expected_format(info)
    assert document.config_descriptor is not None
    assert document.config_descriptor.digest == info["config"]["digest"]
    assert document.config_descriptor.size == info["config"]["size"]

    layers = {layer["digest"]: layer for layer in info["layers"]}
    assert {layer.digest for layer in analysis.layers} == set(layers)
    assert analysis.layer_count == len(layers)
    assert analysis.size_bytes == sum(layer["size"] for layer in layers.values())
    for layer in analysis.layers:
        want = layers[layer.digest]
        assert layer.size == want["size"]
        assert layer.media_type == want["mediaType"]
        assert layer.diff_id == want["diffID"]

    if "cacheConfig" in info:
        assert analysis.record_count == info["cacheConfig"]["records"]
        assert analysis.records_with_results == info["cacheConfig"]["recordsWithResults"]
        assert document.config is not None
        assert len(document.config.layers) == info["cacheConfig"]["layers"]
        roots = sum(1 for layer in document.config.layers if layer.parent == -1)
        assert roots == info["cacheConfig"]["chainRoots"]
    if "inlineCache" in info:
        assert analysis.record_count == info["inlineCache"]["records"]
        assert analysis.records_with_results == info["inlineCache"]["recordsWithLayers"]


@pytest.mark.parametrize("group", GROUPS)
async def test_unreferenced_blobs_match_expected(group: str) -> None:
    for name in layout_names(group):
        facts = expected(group)["fixtures"][name]
        reach = await LayoutStore(fixture_dir(group, name)).reachability()
        assert len(reach.blobs) == facts["blobCount"], name
        assert sum(blob.size for blob in reach.blobs.values()) == facts["totalBlobBytes"], name
        assert [blob.digest for blob in reach.unreferenced] == sorted(facts["unreferencedBlobs"]), name
        assert not reach.missing and not reach.problems, name


async def test_local_max_twice_has_exactly_five_unreferenced_blobs() -> None:
    reach = await LayoutStore(fixture_dir("buildkit", "local-max-twice")).reachability()
    sizes = {blob.digest[7:15]: blob.size for blob in reach.unreferenced}
    assert sizes == {
        "ddf29788": 3208, "e8768e97": 3381, "000aaf90": 330809, "4dfc069e": 248808,
        "72033fbf": 54007,
    }
    assert reach.unreferenced_bytes == 640213


def _final_stage_layers(info: dict[str, Any]) -> dict[str, int]:
    return {layer["digest"]: layer["size"] for layer in info["layers"]
            if layer["step"].startswith("final:")}


MAX_APP_FIXTURES = [
    (group, name, tag) for group, name, tag in CASES
    if expected_tag(group, name, tag)["layers"]
    and len(expected_tag(group, name, tag)["layers"]) >= 9
    and expected_format(expected_tag(group, name, tag)) not in ("image", "inline")
]


@pytest.mark.parametrize(("group", "name", "tag"), MAX_APP_FIXTURES)
async def test_min_estimate_of_max_cache_is_the_final_stage(group: str, name: str, tag: str) -> None:
    info = expected_tag(group, name, tag)
    analysis = await analysed(group, name, tag)
    final = _final_stage_layers(info)
    assert len(final) == 3
    assert set(analysis.minmax.min_digests) == set(final)
    assert analysis.minmax.min_bytes == sum(final.values())
    assert analysis.minmax.delta_bytes == analysis.size_bytes - sum(final.values())
    roles = {layer.digest: layer.role for layer in analysis.layers}
    assert {d for d, role in roles.items() if role is LayerRole.FINAL} == set(final)


MIN_FIXTURES = [
    (group, name, tag) for group, name, tag in CASES
    if len(expected_tag(group, name, tag)["layers"]) == 3
]


@pytest.mark.parametrize(("group", "name", "tag"), MIN_FIXTURES)
async def test_min_caches_have_no_delta(group: str, name: str, tag: str) -> None:
    analysis = await analysed(group, name, tag)
    assert analysis.minmax.delta_bytes == 0
    assert len(analysis.minmax.min_digests) == 3
    assert not analysis.intermediate_layers


async def test_warm_builder_min_export_reports_six_intermediate_layers() -> None:
    analysis = await analysed("buildkit", "local-min-warm-builder", "latest")
    assert len(analysis.minmax.min_digests) == 3
    assert len(analysis.intermediate_layers) == 6
    assert analysis.layer_count == 9


async def test_inline_cache_shows_its_records_and_layers() -> None:
    analysis = await analysed("buildkit-registry", "app-inline", "inline")
    assert str(analysis.document.format) == "inline"
    assert analysis.record_count == 15
    assert analysis.layer_count == 3
    assert analysis.minmax.delta_bytes == 0


SAME_BUILDER = ["gzip", "docker-list", "oci-index", "zstd", "uncompressed", "gzip-9", "zstd-19",
                "gzip-after-variants", "docker-list-after-variants"]


@pytest.mark.parametrize("name", SAME_BUILDER[1:])
async def test_same_builder_variants_are_the_same_cache(name: str) -> None:
    reference = await analysed("buildkit-variants", "gzip", "latest")
    other = await analysed("buildkit-variants", name, "latest")
    diff = diff_caches(reference, other)
    assert diff.same_records
    assert diff.same_layer_chains
    assert diff.same_cache
    assert diff.records_in_common == 15


@pytest.mark.parametrize("name", ["fresh-gzip-9", "fresh-zstd-19"])
async def test_fresh_builder_exports_are_not_the_same_cache(name: str) -> None:
    reference = await analysed("buildkit-variants", "gzip", "latest")
    other = await analysed("buildkit-variants", name, "latest")
    assert not diff_caches(reference, other).same_cache


async def test_multi_tag_directory_lists_both_tags_sharing_blobs() -> None:
    entries, errors, stats = await collect(scan_store(LayoutStore(fixture_dir("buildkit",
                                                                              "local-multi-tag"))))
    assert not errors
    by_tag = {entry.tag: entry.analysis for entry in entries}
    assert set(by_tag) == {"main", "feature-x"}
    main, feature = by_tag["main"], by_tag["feature-x"]
    assert main is not None and feature is not None
    diff = diff_caches(main, feature)
    assert len(diff.shared_layers) == 2
    assert list(stats.values()) == [0]

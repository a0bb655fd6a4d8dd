"""The generator writes caches shaped like BuildKit's real exports (and the demo set uses it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cachetui.buildkit.cacheconfig import parse_cache_config
from cachetui.demo.dataset import build_demo
from cachetui.demo.generator import CacheShape, write_cache, write_stale_blobs
from cachetui.oci import mediatypes as mt
from cachetui.ops.inventory import collect, scan_store
from cachetui.ops.load import load_cache
from cachetui.ops.uncompressed import measure
from cachetui.store.layout import LayoutStore

FORMS = ["image-manifest", "index", "docker-list"]
COMPRESSIONS = ["gzip", "zstd", "uncompressed"]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("compression", COMPRESSIONS)
async def test_generated_cache_has_buildkit_structure(tmp_path: Path, form: str,
                                                      compression: str) -> None:
    shape = CacheShape(form=form, compression=compression, mode="max",  # type: ignore[arg-type]
                       layer_bytes=20_000)
    generated = write_cache(tmp_path, "latest", shape)
    store = LayoutStore(tmp_path)
    analysis = await load_cache(store, "latest")
    document = analysis.document
    assert str(document.format) == form
    assert analysis.compression == (compression,)
    assert document.config is not None
    raw_config = (tmp_path / "blobs" / "sha256" / generated.config_digest.hex).read_bytes()
    assert b'"parent":0' not in raw_config  # Go omitempty, as BuildKit writes it
    blobs = [layer.blob for layer in document.config.layers]
    assert blobs == sorted(blobs)
    digests = [record.digest for record in document.config.records]
    assert digests == sorted(digests)
    for record in document.config.records:
        for alternatives in record.inputs:
            assert [a.link for a in alternatives] == sorted(a.link for a in alternatives)
    assert [d.digest for d in document.layers] == blobs  # descriptors follow the config order
    if form != "image-manifest":
        children = document.top.children()
        assert children[-1].media_type == mt.BUILDKIT_CACHE_CONFIG
    oci = form != "docker-list"
    for descriptor in document.layers:
        assert mt.is_oci_type(descriptor.media_type) == oci
        assert descriptor.annotations is not None
        assert set(descriptor.annotations) == {mt.ANNOTATION_CREATED, mt.ANNOTATION_UNCOMPRESSED}
        _, diff_id = await measure(store, descriptor)
        assert diff_id == descriptor.annotation(mt.ANNOTATION_UNCOMPRESSED)
        if compression == "uncompressed":
            assert descriptor.digest == diff_id
    assert len(analysis.minmax.min_digests) == 3
    assert set(analysis.minmax.min_digests) == set(generated.final_layers)
    assert analysis.minmax.delta_bytes == analysis.size_bytes - analysis.minmax.min_bytes > 0


async def test_min_and_max_share_records_and_final_layers(tmp_path: Path) -> None:
    maximum = write_cache(tmp_path / "max", "c", CacheShape(mode="max", seed=5))
    minimum = write_cache(tmp_path / "min", "c", CacheShape(mode="min", seed=5))
    assert maximum.record_count == minimum.record_count
    assert maximum.final_layers == minimum.final_layers
    small = await load_cache(LayoutStore(tmp_path / "min"), "c")
    assert small.minmax.delta_bytes == 0
    assert small.records_with_results == 3


def test_generation_is_deterministic(tmp_path: Path) -> None:
    shape = CacheShape(compression="gzip", seed=11, layer_bytes=50_000)
    first = write_cache(tmp_path / "a", "t", shape)
    second = write_cache(tmp_path / "b", "t", shape)
    assert first.digest == second.digest


async def test_retagging_leaves_stale_blobs_like_buildkit(tmp_path: Path) -> None:
    write_cache(tmp_path, "main", CacheShape(seed=3, variant=0))
    write_cache(tmp_path, "main", CacheShape(seed=3, variant=1))
    write_cache(tmp_path, "feature", CacheShape(seed=3, variant=2))
    stale = write_stale_blobs(tmp_path, 3)
    store = LayoutStore(tmp_path)
    assert sorted(await store.list_tags()) == ["feature", "main"]
    reach = await store.reachability()
    unreferenced = {blob.digest for blob in reach.unreferenced}
    assert set(stale) <= unreferenced
    assert len(unreferenced) > len(stale)  # the first export's manifest, config and changed layers
    index = json.loads((tmp_path / "index.json").read_text())
    assert len(index["manifests"]) == 2


def test_big_configs_for_benchmarks(tmp_path: Path) -> None:
    generated = write_cache(tmp_path, "big", CacheShape(stages=20, steps_per_stage=10,
                                                        layer_bytes=32, extra_records=3000))
    raw = (tmp_path / "blobs" / "sha256" / generated.config_digest.hex).read_bytes()
    config = parse_cache_config(raw)
    assert len(config.records) == generated.record_count > 3000
    assert len(config.layers) == 20 * 10 + 3


async def test_demo_set_has_every_kind_and_a_broken_directory(tmp_path: Path) -> None:
    paths = build_demo(tmp_path)
    formats: set[str] = set()
    compressions: set[str] = set()
    errors: list[str] = []
    unreferenced: dict[str, int | None] = {}
    for path in paths:
        entries, errs, stats = await collect(scan_store(LayoutStore(path)))
        errors += errs
        unreferenced.update(stats)
        for entry in entries:
            assert entry.analysis is not None
            formats.add(str(entry.analysis.document.format))
            compressions.update(entry.analysis.compression)
    assert formats == {"image-manifest", "index", "docker-list"}
    assert compressions == {"gzip", "zstd", "uncompressed"}
    assert len(errors) == 1
    assert "broken" in errors[0]
    assert (unreferenced[str(tmp_path / "ci-runner")] or 0) > 0
    assert build_demo(tmp_path) == paths  # reused, not rebuilt

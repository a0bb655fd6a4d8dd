"""Annotated cache config (s3/azblob/gha) <-> OCI form, byte-exact against BuildKit's own output."""

from __future__ import annotations

import json

import pytest

from cachetui.buildkit.analysis import analyse
from cachetui.buildkit.annotated import (
    GO_ZERO_TIME,
    annotated_document,
    annotated_to_oci,
    go_utc_text,
    oci_to_annotated,
    parse_annotated,
)
from cachetui.buildkit.cacheconfig import encode_cache_config
from cachetui.errors import FormatError
from cachetui.oci import mediatypes as mt
from cachetui.ops.load import load_document
from cachetui.store.layout import LayoutStore
from tests.backend_fixtures import AnnotatedManifest, annotated_manifests
from tests.fixtures import expected, fixture_dir, layout_names

MANIFESTS = annotated_manifests()


def test_every_backend_manifest_is_covered() -> None:
    assert len(MANIFESTS) == 24
    assert {m.backend for m in MANIFESTS} == {"s3", "azblob", "gha"}


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda m: m.id)
def test_annotated_round_trips_through_the_oci_form_byte_exact(manifest: AnnotatedManifest) -> None:
    config = parse_annotated(manifest.raw)
    assert encode_cache_config(config) == manifest.raw
    document = annotated_document(manifest.raw)
    assert oci_to_annotated(document) == manifest.raw


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda m: m.id)
def test_oci_form_of_a_backend_manifest_is_what_buildkit_registry_export_writes(
        manifest: AnnotatedManifest) -> None:
    form = annotated_to_oci(parse_annotated(manifest.raw))
    body = json.loads(form.top.raw)
    assert list(body) == ["schemaVersion", "mediaType", "config", "layers"]
    assert body["mediaType"] == mt.OCI_MANIFEST
    assert body["config"]["mediaType"] == mt.BUILDKIT_CACHE_CONFIG
    original = json.loads(manifest.raw)
    config = json.loads(form.config_raw)
    assert "annotations" not in json.dumps(config)
    assert config["records"] == original["records"]
    assert len(body["layers"]) == len(original["layers"])
    for descriptor, layer in zip(body["layers"], original["layers"], strict=True):
        notes = layer["annotations"]
        assert descriptor == {
            "mediaType": notes["mediaType"], "digest": layer["blob"], "size": notes["size"],
            "annotations": {"buildkit/createdat": notes["createdAt"],
                            "containerd.io/uncompressed": notes["diffID"]},
        }


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda m: m.id)
def test_analysis_of_a_backend_manifest_matches_expected(manifest: AnnotatedManifest) -> None:
    info = manifest.info
    analysis = analyse(annotated_document(manifest.raw))
    assert analysis.layer_count == info["layerCount"]
    assert analysis.record_count == info["recordCount"]
    assert analysis.records_with_results == info["recordsWithResults"]
    assert analysis.size_bytes == info["uniqueLayerBytes"]
    assert analysis.minmax.min_bytes == info["minEstimate"]["bytes"]
    assert set(analysis.minmax.min_digests) == {x["blob"] for x in info["minEstimate"]["layers"]}
    assert analysis.minmax.delta_bytes == info["maxOverMinBytes"]
    assert list(analysis.minmax.final_records) == info["finalRecords"]
    by_blob = {layer["blob"]: layer for layer in info["layers"]}
    for layer in analysis.layers:
        assert layer.diff_id == by_blob[layer.digest]["diffID"]
        assert layer.size == by_blob[layer.digest]["size"]


CACHE_FIXTURES = [
    (name, tag["tag"])
    for name in layout_names("buildkit")
    for tag in expected("buildkit")["fixtures"][name]["tags"]
    if "cacheConfig" in tag
]


@pytest.mark.parametrize(("name", "tag"), CACHE_FIXTURES)
async def test_local_caches_convert_to_annotated_and_back_to_the_same_bytes(name: str,
                                                                            tag: str) -> None:
    document = await load_document(LayoutStore(fixture_dir("buildkit", name)), tag)
    raw = oci_to_annotated(document)
    config = parse_annotated(raw)
    assert len(config.layers) == len(document.config.layers)  # type: ignore[union-attr]
    image_manifest = document.top.media_type == mt.OCI_MANIFEST
    oci = document.top.media_type != mt.DOCKER_LIST
    form = annotated_to_oci(config, image_manifest=image_manifest, oci=oci)
    assert form.config_raw == document.config_raw
    assert form.top.raw == document.top.raw
    assert form.top.digest == document.top.digest


def test_go_time_text_is_utc_with_nanoseconds_and_trimmed_zeros() -> None:
    assert go_utc_text("2022-03-13T08:13:28.237041716+01:00") == "2022-03-13T07:13:28.237041716Z"
    assert go_utc_text("2026-11-30T03:46:38.441500880Z") == "2026-11-30T03:46:38.44150088Z"
    assert go_utc_text("2026-11-30T03:46:38.000Z") == "2026-11-30T03:46:38Z"
    assert go_utc_text("2026-01-01T00:30:00-01:00") == "2026-01-01T01:30:00Z"
    with pytest.raises(FormatError):
        go_utc_text("yesterday")
    with pytest.raises(FormatError):
        go_utc_text("2026-13-01T00:00:00Z")


def _one_layer(annotations: object) -> bytes:
    layer: dict[str, object] = {"blob": "sha256:" + "a" * 64, "parent": -1}
    if annotations is not None:
        layer["annotations"] = annotations
    return json.dumps({"layers": [layer], "records": [{"layers": [{"layer": 0,
                       "createdAt": GO_ZERO_TIME}], "digest": "sha256:" + "b" * 64}]}).encode()


def test_a_layer_without_annotations_or_diffid_is_refused_like_buildkit() -> None:
    with pytest.raises(FormatError, match="missing annotations"):
        parse_annotated(_one_layer(None))
    with pytest.raises(FormatError, match="missing diffid"):
        parse_annotated(_one_layer({"mediaType": mt.OCI_LAYER_GZIP, "size": 3}))
    with pytest.raises(FormatError, match="malformed time"):
        parse_annotated(_one_layer({"mediaType": mt.OCI_LAYER_GZIP, "diffID": "sha256:" + "c" * 64,
                                    "size": 3, "createdAt": "soon"}))


def test_a_zero_creation_time_gives_no_createdat_annotation() -> None:
    raw = _one_layer({"mediaType": mt.OCI_LAYER_GZIP, "diffID": "sha256:" + "c" * 64, "size": 3,
                      "createdAt": GO_ZERO_TIME})
    form = annotated_to_oci(parse_annotated(raw))
    assert form.layers[0].annotations == {mt.ANNOTATION_UNCOMPRESSED: "sha256:" + "c" * 64}
    document = annotated_document(raw)
    assert json.loads(oci_to_annotated(document))["layers"][0]["annotations"]["createdAt"] \
        == GO_ZERO_TIME

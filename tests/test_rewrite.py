"""The pure cache rewrite against BuildKit's own variants of one build (fixtures/buildkit-variants)."""

from __future__ import annotations

import asyncio

import pytest

from cachetui.buildkit.analysis import analyse
from cachetui.buildkit.diff import diffid_chains, normalised_records
from cachetui.buildkit.document import CacheDocument, CacheFormat
from cachetui.buildkit.rewrite import OCI_REQUIRED_MESSAGE, RewriteOptions, rewrite_document
from cachetui.errors import InvalidInput, UnsupportedOperation
from cachetui.oci import mediatypes as mt
from cachetui.oci.models import Descriptor
from cachetui.ops.load import load_document
from cachetui.store.layout import LayoutStore
from tests.fixtures import fixture_dir


def doc(group: str, name: str, tag: str = "latest") -> CacheDocument:
    return asyncio.run(load_document(LayoutStore(fixture_dir(group, name)), tag))


def variants(name: str) -> CacheDocument:
    return doc("buildkit-variants", name)


def blobs_as_in(source: CacheDocument, target: CacheDocument) -> dict[str, Descriptor]:
    """Map each source blob to the target's blob of the same diffID (what a re-encode yields)."""
    by_diff_id = {target.diff_ids[d.digest]: d for d in target.layers}
    out = {}
    for layer in source.layers:
        new = by_diff_id[source.diff_ids[layer.digest]]
        out[layer.digest] = Descriptor(media_type=new.media_type, digest=new.digest, size=new.size)
    return out


@pytest.mark.parametrize("target", ["uncompressed", "zstd"])
def test_recompressed_config_is_byte_identical_to_buildkits(target: str) -> None:
    gzip, other = variants("gzip"), variants(target)
    rewritten = rewrite_document(gzip, blobs_as_in(gzip, other))
    # BuildKit's sortConfig order is reproduced, so the config is BuildKit's byte for byte.
    assert rewritten.config_raw == other.config_raw
    assert rewritten.config_descriptor.digest == other.config_descriptor.digest  # type: ignore[union-attr]
    # Layers keep diffID and createdat (BuildKit's forced variants drop createdat; cachetui keeps it).
    originals = {d.annotation(mt.ANNOTATION_UNCOMPRESSED): d for d in gzip.layers}
    for layer in rewritten.layers:
        source = originals[layer.annotation(mt.ANNOTATION_UNCOMPRESSED)]
        assert layer.annotation(mt.ANNOTATION_CREATED) == source.annotation(mt.ANNOTATION_CREATED)
        assert layer.annotation(mt.ANNOTATION_CREATED) is not None
    assert [d.digest for d in rewritten.layers] == [d.digest for d in other.layers]
    assert [d.media_type for d in rewritten.layers] == [d.media_type for d in other.layers]


@pytest.mark.parametrize(("source", "options", "expected"), [
    ("gzip", RewriteOptions(oci_mediatypes=False), "docker-list"),
    ("gzip", RewriteOptions(image_manifest=False), "oci-index"),
    ("docker-list", RewriteOptions(image_manifest=True), "gzip"),
    ("docker-list", RewriteOptions(oci_mediatypes=True), "oci-index"),
    ("oci-index", RewriteOptions(image_manifest=True), "gzip"),
    ("oci-index", RewriteOptions(oci_mediatypes=False), "docker-list"),
])
def test_form_conversions_give_buildkits_exact_bytes(source: str, options: RewriteOptions,
                                                     expected: str) -> None:
    rewritten = rewrite_document(variants(source), {}, options)
    assert rewritten.top.raw == variants(expected).top.raw


def test_unchanged_rewrite_keeps_the_source_bytes() -> None:
    source = variants("docker-list")
    rewritten = rewrite_document(source, {})
    assert rewritten.unchanged
    assert rewritten.top.raw == source.top.raw


def test_image_manifest_with_docker_types_is_refused_with_buildkits_message() -> None:
    with pytest.raises(InvalidInput) as caught:
        rewrite_document(variants("gzip"), {},
                         RewriteOptions(oci_mediatypes=False, image_manifest=True))
    assert str(caught.value) == OCI_REQUIRED_MESSAGE


def test_min_keeps_every_record_and_exactly_the_final_layers() -> None:
    source = variants("gzip")
    minmax = analyse(source).minmax
    rewritten = rewrite_document(source, {}, RewriteOptions(minimal=True))
    assert set(rewritten.blobs) == set(minmax.min_digests)
    assert len(rewritten.blobs) == 3
    assert source.config is not None
    assert rewritten.dropped_results == 6
    result = analyse(_reparse(source, rewritten.top.raw, rewritten.config_raw))
    assert result.record_count == len(source.config.records)
    assert result.records_with_results == len(minmax.kept_records) == 3
    assert result.minmax.min_digests == minmax.min_digests
    assert {d.digest for d in _reparse(source, rewritten.top.raw, rewritten.config_raw).layers} \
        == set(minmax.min_digests)


def _reparse(source: CacheDocument, raw: bytes, config_raw: bytes) -> CacheDocument:
    from cachetui.buildkit.document import build_document
    from cachetui.oci.models import parse_top

    return build_document(parse_top(raw), config_raw)


def test_merged_variants_collapse_to_one_entry_per_chain() -> None:
    # gzip-after-variants has COPY src/ twice (uncompressed and gzip); both re-encode to one blob.
    source = variants("gzip-after-variants")
    target = variants("uncompressed")
    rewritten = rewrite_document(source, blobs_as_in(source, target))
    result = _reparse(source, rewritten.top.raw, rewritten.config_raw)
    assert result.config is not None
    assert len(result.config.layers) == 9
    assert rewritten.config_raw == target.config_raw
    assert set(diffid_chains(analyse(result))) == set(diffid_chains(analyse(source)))
    assert normalised_records(analyse(result)) == normalised_records(analyse(target))


def test_rewrite_is_deterministic() -> None:
    source, target = variants("gzip"), variants("zstd")
    first = rewrite_document(source, blobs_as_in(source, target), RewriteOptions(minimal=True))
    second = rewrite_document(source, blobs_as_in(source, target), RewriteOptions(minimal=True))
    assert first.top.raw == second.top.raw and first.config_raw == second.config_raw


def test_inline_cache_cannot_be_reexported() -> None:
    inline = doc("buildkit-registry", "app-inline", "inline")
    assert inline.format is CacheFormat.INLINE
    with pytest.raises(UnsupportedOperation):
        rewrite_document(inline, {})

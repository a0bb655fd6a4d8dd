"""Cache config v0 rules: parent defaults, ranges, loops, exact re-encoding."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cachetui.buildkit.analysis import analyse
from cachetui.buildkit.cacheconfig import (
    CacheConfig,
    CacheInput,
    CacheLayer,
    CacheRecord,
    CacheResult,
    ChainedResult,
    _is_valid,
    _raise_first_problem,
    encode_cache_config,
    parse_cache_config,
)
from cachetui.buildkit.chains import ChainIndex
from cachetui.errors import FormatError
from cachetui.store.layout import LayoutStore
from tests.fixtures import GROUPS, fixture_dir, layout_names

A, B, C = ("sha256:" + ch * 64 for ch in "abc")


def config(layers: list[dict[str, object]], records: list[dict[str, object]]) -> bytes:
    return json.dumps({"layers": layers, "records": records}).encode()


def test_missing_parent_means_zero_and_minus_one_means_none() -> None:
    parsed = parse_cache_config(config(
        [{"blob": A, "parent": -1}, {"blob": B}, {"blob": C, "parent": 1}],
        [{"digest": "k", "layers": [{"layer": 2, "createdAt": "2026-01-01T00:00:00Z"}]}],
    ))
    assert [layer.parent for layer in parsed.layers] == [-1, 0, 1]
    chains = ChainIndex(parsed)
    assert chains.blobs(chains.entry_chain(2)) == (A, B, C)


def test_parents_may_point_forward() -> None:
    parsed = parse_cache_config(config([{"blob": A, "parent": 1}, {"blob": B, "parent": -1}], []))
    chains = ChainIndex(parsed)
    assert chains.blobs(chains.entry_chain(0)) == (B, A)


@pytest.mark.parametrize(("layers", "records", "message"), [
    ([{"blob": A, "parent": 5}], [], r"layers\[0\].parent 5 is out of range"),
    ([{"blob": A, "parent": -2}], [], "out of range"),
    ([{"blob": A}], [], "parent loop"),
    ([{"blob": A, "parent": 1}, {"blob": B, "parent": 0}], [], "parent loop"),
    ([{"blob": A, "parent": -1}], [{"layers": [{"layer": 1}]}], r"records\[0\].layers\[0\].layer 1"),
    ([{"blob": A, "parent": -1}], [{"chains": [{"layers": [0, 3]}]}], "out of range"),
    ([], [{"inputs": [[{"link": 1}]]}], "link 1 is out of range"),
    ([], [{"inputs": [[{"link": 0}]]}], "record loop"),
    ([], [{"inputs": [[{"link": 1}]]}, {"inputs": [[{"link": 0}]]}], "record loop"),
    ([], [{"inputs": [[]]}], "is empty"),
    ([{"parent": -1}], [], "no blob digest"),
])
def test_invalid_configs_are_rejected_with_the_reason(layers: list[dict[str, object]],
                                                     records: list[dict[str, object]],
                                                     message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_cache_config(config(layers, records), where="cfg.json")


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"layers": {}}', b'{"layers":[{"parent":"x"}]}',
                                 b'{"records":[{"layers":[{"layer":-0.5}]}]}', b"\xff\xfe"])
def test_malformed_json_is_a_format_error_naming_the_file(raw: bytes) -> None:
    with pytest.raises(FormatError) as info:
        parse_cache_config(raw, where="cfg.json")
    assert str(info.value).startswith("cfg.json: ")
    assert "\n" not in str(info.value)


def test_deep_chains_and_long_record_chains_do_not_recurse() -> None:
    n = 50_000
    layers = [{"blob": A, "parent": i - 1} for i in range(n)]
    records: list[dict[str, object]] = [
        {"digest": f"k{i}", "inputs": [[{"link": i - 1}]]} if i else {"digest": "k0"}
               for i in range(n)]
    parsed = parse_cache_config(config(layers, records))
    assert len(ChainIndex(parsed).entry_chain(n - 1)) == n


@pytest.mark.parametrize("group", GROUPS)
def test_every_fixture_config_reencodes_to_the_same_bytes(group: str) -> None:
    seen = 0
    for name in layout_names(group):
        store = LayoutStore(fixture_dir(group, name))
        for tag, _ in store.tag_entries_sync():
            top = store.get_manifest_sync(tag)
            for child in top.children():
                if child.media_type == "application/vnd.buildkit.cacheconfig.v0":
                    raw = (store.root / "blobs" / "sha256" / child.digest[7:]).read_bytes()
                    assert encode_cache_config(parse_cache_config(raw)) == raw
                    seen += 1
    assert seen > 0


def test_analysis_of_a_config_with_missing_blobs_reports_them() -> None:
    from cachetui.buildkit.document import build_document
    from cachetui.oci.models import parse_top

    cfg = config([{"blob": A, "parent": -1}],
                 [{"digest": "k", "layers": [{"layer": 0, "createdAt": "2026-01-01T00:00:00Z"}]}])
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.buildkit.cacheconfig.v0",
                   "digest": "sha256:" + "d" * 64, "size": len(cfg)},
        "layers": [],
    }).encode()
    analysis = analyse(build_document(parse_top(manifest), cfg))
    assert analysis.minmax.missing_blobs == (A,)
    assert analysis.minmax.min_bytes == 0


def _small_configs() -> st.SearchStrategy[CacheConfig]:
    """Tiny configs whose indices often fall out of range, loop or are missing."""
    index = st.integers(min_value=-3, max_value=5)
    layer = st.builds(CacheLayer, blob=st.sampled_from(["", A, B]), parent=index)
    alternative = st.builds(CacheInput, link=index)
    record = st.builds(
        CacheRecord,
        layers=st.lists(st.builds(CacheResult, layer=index), max_size=2).map(tuple),
        chains=st.lists(st.builds(ChainedResult, layers=st.lists(index, max_size=3).map(tuple)),
                        max_size=2).map(tuple),
        inputs=st.lists(st.lists(alternative, max_size=3).map(tuple), max_size=3).map(tuple),
    )
    return st.builds(CacheConfig, layers=st.lists(layer, max_size=5),
                     records=st.lists(record, max_size=5))


@settings(max_examples=1000, deadline=None)
@given(_small_configs())
def test_fast_validation_agrees_with_the_reference_walk(cfg: CacheConfig) -> None:
    """validate() answers from flat passes and walks the config only to name a problem: both
    must agree on every config, or a bad config would pass (or a good one fail)."""
    try:
        _raise_first_problem(cfg, "cfg")
    except FormatError:
        reference_ok = False
    else:
        reference_ok = True
    assert _is_valid(cfg) is reference_ok


def test_parsed_configs_and_analyses_are_not_tracked_by_the_garbage_collector() -> None:
    """A listing keeps every parsed config and analysis (a million small objects for 3,000
    caches): each full collection would walk them all, finding nothing, as it did before."""
    import gc

    from cachetui.buildkit.document import build_document
    from cachetui.oci.models import parse_top

    cfg = config([{"blob": A, "parent": -1}],
                 [{"digest": "k", "layers": [{"layer": 0, "createdAt": "2026-01-01T00:00:00Z"}]},
                  {"digest": "j", "inputs": [[{"link": 0}]]}])
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.buildkit.cacheconfig.v0",
                   "digest": "sha256:" + "d" * 64, "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": A,
                    "size": 3}],
    }).encode()
    analysis = analyse(build_document(parse_top(manifest), cfg))
    parsed = analysis.document.config
    assert parsed is not None
    untracked = [parsed, parsed.layers[0], *parsed.records, parsed.records[0].layers[0],
                 parsed.records[1].inputs[0][0], *analysis.document.layers,
                 analysis.minmax, *analysis.layers]
    assert [type(o).__name__ for o in untracked if gc.is_tracked(o)] == []

"""Which caches share a layer (issue 14 add 1): the same blob, and separately the same content in
another encoding, on the buildkit-variants exports of one builder state (EXPECTED.json's
``layersByDiffID`` says which blob each export holds for each diffID); and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cachetui.cli import main
from cachetui.config import Config
from cachetui.errors import NotFound, UsageError
from cachetui.locations import Workspace
from cachetui.ops.gather import gather
from cachetui.ops.inventory import CacheEntry
from cachetui.ops.shares import resolve_layer, shares
from tests.fixtures import expected, fixture_dir

VARIANTS = expected("buildkit-variants")
COVERED = VARIANTS["layersByDiffIDCovers"]


async def variant_entries() -> list[CacheEntry]:
    async with Workspace(Config()) as ws:
        found = await gather(ws, [str(fixture_dir("buildkit-variants", n)) for n in COVERED])
    assert found.errors == []
    return found.entries


Pairs = set[tuple[str, str]]


def expected_holders(item: dict[str, Any], digest: str) -> tuple[Pairs, Pairs]:
    same: Pairs = set()
    other: Pairs = set()
    for name in COVERED:
        for blob in item[name]:
            (same if blob["digest"] == digest else other).add((name, blob["digest"]))
    return same, other


async def test_every_layer_of_the_variants() -> None:
    entries = await variant_entries()
    for item in VARIANTS["layersByDiffID"]:
        digest = item["gzip"][0]["digest"]
        found = shares(entries, digest)
        assert found.diff_id == item["diffID"]
        same, other = expected_holders(item, digest)
        assert {(Path(h.entry.source).name, h.layer.digest) for h in found.same_blob} == same
        assert {(Path(h.entry.source).name, h.layer.digest) for h in found.same_content} == other
        assert {h.layer.compression for h in found.same_content} <= {"zstd", "uncompressed"}


async def test_a_diffid_or_a_prefix_finds_the_layer() -> None:
    entries = await variant_entries()
    item = VARIANTS["layersByDiffID"][0]
    gzip = item["gzip"][0]["digest"]
    assert resolve_layer(entries, gzip) == (gzip, item["diffID"])
    assert resolve_layer(entries, gzip[7:19]) == (gzip, item["diffID"])
    zstd = item["zstd"][0]["digest"]
    assert resolve_layer(entries, "sha256:" + zstd[7:20]) == (zstd, item["diffID"])
    # the diffID is the uncompressed blob's own digest: that blob stands for it
    assert resolve_layer(entries, item["diffID"])[1] == item["diffID"]
    with pytest.raises(UsageError):
        resolve_layer(entries, "zz-not-hex")
    with pytest.raises(UsageError):
        resolve_layer(entries, "sha256:")  # every layer matches an empty prefix: refused
    with pytest.raises(NotFound):
        resolve_layer(entries, "0" * 64)


def test_cli_json_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    item = VARIANTS["layersByDiffID"][0]
    digest = item["gzip"][0]["digest"]
    dirs = [str(fixture_dir("buildkit-variants", n)) for n in ("gzip", "zstd", "uncompressed")]
    assert main(["shares", *dirs, digest[7:19], "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["digest"] == digest and out["diff_id"] == item["diffID"]
    assert [Path(h["source"]).name for h in out["same_blob"]] == ["gzip"]
    assert sorted((Path(h["source"]).name, h["compression"]) for h in out["same_content"]) == [
        ("uncompressed", "uncompressed"), ("zstd", "zstd")]
    assert main(["shares", *dirs, digest]) == 0
    text = capsys.readouterr().out
    assert "same blob: 1 cache" in text
    assert "same content in another encoding (same diffID): 2 caches" in text


def test_cli_bad_digest_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    directory = str(fixture_dir("buildkit-variants", "gzip"))
    assert main(["shares", directory, "banana"]) == 2
    assert "not a digest" in capsys.readouterr().err
    assert main(["shares", directory, "0" * 64]) == 1

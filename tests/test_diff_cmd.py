"""``cachetui diff A B [--json]`` (issue 14 add 2): layers paired by digest and by diffID."""

from __future__ import annotations

import json

import pytest

from cachetui.cli import main
from tests.fixtures import fixture_dir


def variant(name: str) -> str:
    return f"{fixture_dir('buildkit-variants', name)}:latest"


def test_gzip_and_zstd_of_one_build_pair_every_layer_by_diff_id(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", variant("gzip"), variant("zstd"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    statuses = {layer["status"] for layer in out["layers"]}
    assert statuses == {"same content, re-encoded"}
    assert out["shared_bytes"] == 0 and out["same_cache"] is True
    assert out["records_in_common"] == out["records_left"] == out["records_right"]


def test_a_cache_against_itself_shares_every_blob(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", variant("gzip"), variant("gzip")]) == 0
    out = capsys.readouterr().out
    assert "the same cache" in out and "only in A   0 blobs" in out
    assert "re-encoded  0 layers" in out


def test_a_missing_side_is_one_line(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", variant("gzip"), f"{tmp_path}/nothing:latest"]) == 1
    assert capsys.readouterr().err.count("\n") == 1

"""The headless CLI on real exports: ls, inspect, JSON fields, sources as users type them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cachetui.cli import main
from tests.fixtures import expected, fixture_dir

DOCUMENTED_FIELDS = {
    "source", "tag", "digest", "format", "compression", "layer_count", "record_count", "size_bytes",
    "min_size_bytes", "max_over_min_bytes", "unreferenced_bytes", "created_newest",
}
LAYER_FIELDS = {"digest", "media_type", "size", "diff_id", "created_at", "role"}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]]]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_ls_json_has_the_documented_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code, rows = run_json(capsys, "ls", "--json", str(fixture_dir("buildkit", "local-max-twice")))
    assert code == 0
    assert len(rows) == 1
    row = rows[0]
    assert set(row) >= DOCUMENTED_FIELDS
    facts = expected("buildkit")["fixtures"]["local-max-twice"]["tags"][0]
    assert row["digest"] == facts["digest"]
    assert row["format"] == "image-manifest"
    assert row["compression"] == ["gzip"]
    assert row["layer_count"] == 9
    assert row["record_count"] == 15
    assert row["size_bytes"] == facts["layerBytes"]
    assert row["unreferenced_bytes"] == 640213
    assert row["min_size_bytes"] + row["max_over_min_bytes"] == row["size_bytes"]
    assert row["created_newest"].startswith("2026-11-22T")


def test_ls_searches_a_folder_for_cache_directories(capsys: pytest.CaptureFixture[str]) -> None:
    code, rows = run_json(capsys, "ls", "--json", str(fixture_dir("buildkit", "local-min").parent))
    assert code == 0
    names = {(Path(row["source"]).name, row["tag"]) for row in rows}
    assert ("local-multi-tag", "main") in names
    assert ("local-multi-tag", "feature-x") in names
    assert len(rows) == sum(len(f["tags"]) for f in expected("buildkit")["fixtures"].values())


@pytest.mark.parametrize("form", ["dir-tag", "spec", "spec-digest"])
def test_inspect_sources_as_users_write_them(form: str, capsys: pytest.CaptureFixture[str]) -> None:
    layout = fixture_dir("buildkit", "local-multi-tag")
    digest = expected("buildkit")["fixtures"]["local-multi-tag"]["tags"][1]["digest"]
    source = {
        "dir-tag": f"{layout}:feature-x",
        "spec": f"type=local,src={layout},tag=feature-x",
        "spec-digest": f"type=local,src={layout},digest={digest}",
    }[form]
    code, rows = run_json(capsys, "inspect", "--json", "--layers", source)
    assert code == 0
    assert [row["digest"] for row in rows] == [digest]
    layers = rows[0]["layers"]
    assert len(layers) == 3
    assert all(set(layer) >= LAYER_FIELDS for layer in layers)
    assert {layer["role"] for layer in layers} == {"final"}


def test_inspect_uncompressed_sizes_match_expected(capsys: pytest.CaptureFixture[str]) -> None:
    code, rows = run_json(capsys, "inspect", "--json", "--uncompressed",
                          str(fixture_dir("buildkit", "local-max-zstd")))
    assert code == 0
    want = {layer["digest"]: layer["uncompressedSize"]
            for layer in expected("buildkit")["fixtures"]["local-max-zstd"]["tags"][0]["layers"]}
    got = {layer["digest"]: layer["uncompressed_size"] for layer in rows[0]["layers"]}
    assert got == want


def test_inspect_human_output_names_the_estimate(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["inspect", "--layers", str(fixture_dir("buildkit", "local-min-warm-builder"))])
    out = capsys.readouterr().out
    assert code == 0
    assert "min estimate  3 layers" in out
    assert "6 intermediate-only layers" in out
    assert "clean builder" in out
    assert out.count("intermediate ") >= 6


def test_ls_human_table(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ls", str(fixture_dir("buildkit", "local-min-tag"))])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].split()[:5] == ["CACHE", "FORMAT", "COMPRESSION", "LAYERS", "SIZE"]
    assert out[1].split()[0].endswith("local-min-tag:v1.0-custom")


def test_unknown_tag_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["inspect", f"{fixture_dir('buildkit', 'local-min')}:nope"])
    err = capsys.readouterr().err
    assert code == 1
    assert "no tag 'nope'" in err


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "cachetui", "ls", "--json",
                             str(fixture_dir("buildkit", "local-min"))],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["tag"] == "latest"


def test_the_script_exit_code_and_messages_survive_the_fast_exit() -> None:
    """``entry`` leaves with ``os._exit``: buffered output and the exit code must still get out."""
    result = subprocess.run([sys.executable, "-m", "cachetui", "inspect",
                             f"{fixture_dir('buildkit', 'local-min')}:nope"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "no tag 'nope'" in result.stderr and "Traceback" not in result.stderr

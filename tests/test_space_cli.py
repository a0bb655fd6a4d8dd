"""``cachetui space``: table with the chart, ``--json``, ``--format csv``, ASCII output, usage
errors and partial failures (issue 14 add 1)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cachetui.cli import main
from tests.fixtures import REPO_ROOT, expected, fixture_dir
from tests.gha_emulator.emulator import GitHubEmulator
from tests.gha_emulator.fixture import REPOSITORY, REST_TOKEN, load_dump
from tests.prune_support import copy_fixture

BUILDKIT = expected("buildkit")["fixtures"]


def stranded_bytes(root: Path) -> int:
    return sum((root / "blobs" / "sha256" / d[7:]).stat().st_size
               for d in BUILDKIT["local-max-twice"]["unreferencedBlobs"])


def test_json_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    twice = copy_fixture("local-max-twice", tmp_path / "twice")
    multi = fixture_dir("buildkit", "local-multi-tag")
    assert main(["space", str(twice), str(multi), "--json", "--top", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    by_source = {Path(s["source"]).name: s for s in out["sources"]}
    assert by_source["twice"]["reclaimable_now_bytes"] == stranded_bytes(twice)
    assert by_source["twice"]["reclaimable_after_grace_bytes"] == 0
    multi_total = sum(t["layerBytes"] for t in BUILDKIT["local-multi-tag"]["tags"])
    assert by_source["local-multi-tag"]["total_bytes"] == multi_total
    assert by_source["local-multi-tag"]["caches"] == 2
    everything = out["all"]
    assert everything["caches"] == 3
    assert everything["total_bytes"] == sum(s["total_bytes"] for s in out["sources"])
    assert everything["reclaimable_now_bytes"] == stranded_bytes(twice)
    assert len(everything["biggest"]) == 2
    assert sum(bar["bytes"] for bar in everything["ages"]) == everything["unique_bytes"]
    assert [bar["age"] for bar in everything["ages"]] == ["<1d", "1-7d", "7-30d", "30-90d",
                                                          ">90d"]
    assert out["errors"] == []


def test_table_has_the_chart_and_csv_one_row_per_source(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    twice = copy_fixture("local-max-twice", tmp_path / "twice")
    assert main(["space", str(twice)]) == 0
    text = capsys.readouterr().out
    assert "RECLAIM NOW" in text and "Bytes by age" in text and "█" in text
    assert "Biggest caches" in text
    assert main(["space", str(twice), str(fixture_dir("buildkit", "local-min")),
                 "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [Path(r["source"]).name for r in rows][-1] == "ALL"
    assert len(rows) == 3
    assert rows[-1]["reclaimable_now_bytes"] == str(stranded_bytes(twice))


def test_ascii_output_encoding_draws_hashes(tmp_path: Path) -> None:
    twice = copy_fixture("local-max-twice", tmp_path / "twice")
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "CACHETUI_CONFIG": str(tmp_path / "no")}
    done = subprocess.run([sys.executable, "-m", "cachetui", "space", str(twice)],
                          capture_output=True, env=env, cwd=REPO_ROOT, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode("ascii")  # raises if anything else came out
    chart = text[text.index("Bytes by age"):text.index("Biggest")]
    assert "#" in chart and "\\u" not in text


def test_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHETUI_CONFIG", str(tmp_path / "none.toml"))
    assert main(["space"]) == 2  # no source and none in the config
    assert main(["space", str(tmp_path), "--top", "0"]) == 2
    assert main(["space", str(tmp_path), "--grace", "banana"]) == 2


def test_config_sources_when_none_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[[sources]]\nsource = "{fixture_dir("buildkit", "local-min")}"\n')
    monkeypatch.setenv("CACHETUI_CONFIG", str(config))
    assert main(["space", "--json"]) == 0
    [source] = json.loads(capsys.readouterr().out)["sources"]
    assert Path(source["source"]).name == "local-min"


def test_a_broken_source_is_partial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = copy_fixture("local-min", tmp_path / "broken")
    (broken / "index.json").write_bytes(b'{"manifests": [')
    assert main(["space", str(broken), str(fixture_dir("buildkit", "local-min"))]) == 3
    captured = capsys.readouterr()
    assert "broken" in captured.err and "local-min" in captured.out
    assert main(["space", str(broken)]) == 1


def test_gha_source_superseded_generations_are_reclaimable(
        gha_emulator: GitHubEmulator, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """REST only (no runtime token): no cache contents, but the two superseded index
    generations are reclaimable, exactly what ``prune --superseded`` plans."""
    for name in ("ACTIONS_RUNTIME_TOKEN", "ACTIONS_RESULTS_URL", "ACTIONS_CACHE_URL",
                 "ACTIONS_CACHE_SERVICE_V2", "GH_TOKEN", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_API_URL", gha_emulator.url)
    monkeypatch.setenv("GITHUB_TOKEN", REST_TOKEN)
    load_dump(gha_emulator, "v2-generations")
    assert main(["space", f"gha://{REPOSITORY}", "--json"]) == 0
    out = capsys.readouterr()
    [source] = json.loads(out.out)["sources"]
    assert source["source"] == f"gha://{REPOSITORY}"
    assert source["reclaimable_now_bytes"] == 3041 + 3051
    assert "superseded generations" in source["reclaimable_how"]
    assert REST_TOKEN not in out.out + out.err

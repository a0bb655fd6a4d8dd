"""CLI manners (issue 14): bad option values are usage errors, failed sources are JSON entries,
counts agree with their nouns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cachetui.cli import main
from tests.fixtures import fixture_dir
from tests.prune_support import copy_fixture


@pytest.mark.parametrize("argv", [
    ["prune", "{dir}", "--older-than", "banana"],
    ["prune", "{dir}", "--max-size", "20XB"],
    ["prune", "{dir}", "--keep", "-1"],
    ["prune", "{dir}", "--older-than", "1d", "--grace", "soon"],
    ["gc", "{dir}", "--grace", "soon"],
    ["reexport", "{dir}:latest", "{dir}:out", "--compression", "gzip", "--level", "99"],
    ["reexport", "{dir}:latest", "{dir}:out", "--level", "3"],
])
def test_bad_option_values_exit_2_with_one_line(argv: list[str], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_fixture("local-min", tmp_path / "dir")
    assert main([arg.replace("{dir}", str(root)) for arg in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cachetui: error: --"), err


def test_a_failed_source_is_an_entry_in_ls_json(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    good = str(fixture_dir("buildkit", "local-min"))
    missing = str(tmp_path / "missing")
    assert main(["ls", missing, good, "--json"]) == 3
    rows = json.loads(capsys.readouterr().out)
    failed = [row for row in rows if row.get("error")]
    assert [row["source"] for row in failed] == [missing]
    assert failed[0]["tag"] is None and "no such directory" in failed[0]["error"]
    assert any(row["source"] == good and row["tag"] == "latest" for row in rows)


def test_prune_totals_agree_with_their_count(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_fixture("local-min", tmp_path / "dir")
    main(["prune", f"{root}:latest"])
    out = capsys.readouterr().out
    assert "1 tag," in out and "1 tags" not in out


def test_reexport_of_an_inline_cache_says_why_in_plain_words(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = fixture_dir("buildkit-registry", "app-inline")
    tag = json.loads((source / "index.json").read_text())["manifests"][0]["annotations"][
        "org.opencontainers.image.ref.name"]
    assert main(["reexport", f"{source}:{tag}", f"{tmp_path / 'out'}:x", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "its form is inline" in err and "a inline" not in err


def test_reexport_plan_says_a_level_is_not_applied_without_force(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """found 7: gzip --level 1 of a gzip cache changes nothing unless forced; the plan says so."""
    import shutil

    source = tmp_path / "gz"
    shutil.copytree(fixture_dir("buildkit-variants", "gzip"), source)
    assert main(["reexport", f"{source}:latest", f"{source}:l1", "--compression", "gzip",
                 "--level", "1", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "level 1 is not applied to 9 layers already in gzip" in out
    assert main(["reexport", f"{source}:latest", f"{source}:l1", "--compression", "gzip",
                 "--level", "1", "--force", "--dry-run"]) == 0
    assert "not applied" not in capsys.readouterr().out


@pytest.mark.parametrize("command", [["copy"], ["reexport", "--compression", "zstd"]])
def test_an_existing_destination_tag_is_named_and_no_clobber_refuses(
        command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """found 8: the plan says 'replaces sha256:...'; --no-clobber refuses and writes nothing."""
    root = copy_fixture("local-multi-tag", tmp_path / "multi")
    index = json.loads((root / "index.json").read_text())
    old = {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"]
           for m in index["manifests"]}
    argv = [command[0], f"{root}:main", f"{root}:feature-x", *command[1:]]
    assert main([*argv, "--dry-run"]) == 0
    assert re.search(rf"replaces +{old['feature-x']}", capsys.readouterr().out)
    assert main([*argv, "--dry-run", "--json"]) == 0
    assert old["feature-x"] in capsys.readouterr().out
    before = (root / "index.json").read_bytes()
    assert main([*argv, "--no-clobber"]) == 1
    err = capsys.readouterr().err
    assert "--no-clobber refuses" in err and err.count("\n") == 1
    assert (root / "index.json").read_bytes() == before
    assert main([f"{command[0]}", f"{root}:main", f"{root}:new-tag", *command[1:],
                 "--no-clobber", "--dry-run"]) == 0


def test_gc_says_it_waits_for_a_held_lock(tmp_path: Path) -> None:
    """found 11: a held index.json.lock is named on stderr (what, since when), then gc goes on."""
    import subprocess
    import sys
    import time

    root = copy_fixture("local-max-twice", tmp_path / "twice")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
         "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(3)",
         str(root / "index.json.lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "cachetui", "gc", str(root), "--yes"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert time.monotonic() - start >= 1.0  # it did wait for the holder
        waiting = [line for line in done.stderr.splitlines() if "waiting for" in line]
        assert len(waiting) == 1
        assert "index.json.lock" in waiting[0] and "waiting since" in waiting[0]
        assert "UTC" in waiting[0]
    finally:
        holder.wait(timeout=30)

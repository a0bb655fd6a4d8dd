"""``ls --sort``, ``--match``, the totals line and ``--format json|csv|table`` (issue 14 add 2)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cachetui.cli import main
from tests.prune_support import cache_manifest, write_index

NOW = datetime(2026, 1, 10, tzinfo=UTC)


def three_tags(root: Path) -> Path:
    """small (newest), big (oldest) and mid, sharing one layer."""
    shared = b"s" * 1000
    write_index(root, {
        "small": cache_manifest(root, [shared], NOW, salt="a"),
        "big": cache_manifest(root, [shared, b"b" * 5000], NOW - timedelta(days=9), salt="b"),
        "mid": cache_manifest(root, [shared, b"m" * 2000], NOW - timedelta(days=3), salt="c"),
    })
    return root


def tags_of(out: str) -> list[str]:
    return [line.split()[0].rsplit(":", 1)[-1] for line in out.splitlines()[1:]
            if line and not line.startswith("TOTAL")]


@pytest.mark.parametrize(("key", "order"), [("name", ["big", "mid", "small"]),
                                            ("size", ["big", "mid", "small"]),
                                            ("age", ["small", "mid", "big"])])
def test_sort(key: str, order: list[str], tmp_path: Path,
              capsys: pytest.CaptureFixture[str]) -> None:
    root = three_tags(tmp_path / "dir")
    assert main(["ls", str(root), "--sort", key]) == 0
    assert tags_of(capsys.readouterr().out) == order


def test_match_and_totals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = three_tags(tmp_path / "dir")
    assert main(["ls", str(root), "--match", "m*", "--match", "sm*"]) == 0
    out = capsys.readouterr().out
    assert sorted(tags_of(out)) == ["mid", "small"]
    total = [line for line in out.splitlines() if line.startswith("TOTAL")]
    # mid = 1000 + 2000, small = 1000: 4000 in all, 3000 once the shared layer counts once
    assert total == ["TOTAL 2 caches, 3.9 KiB; unique 2.9 KiB (shared layers once); "
                     "reclaimable now 0 Bytes (unreferenced blobs)"]


def test_format_csv_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = three_tags(tmp_path / "dir")
    assert main(["ls", str(root), "--format", "csv", "--sort", "size"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["tag"] for row in rows] == ["big", "mid", "small"]
    assert rows[0]["size_bytes"] == "6000" and rows[0]["store"] == "directory"
    assert main(["ls", str(root), "--format", "json", "--match", "big"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["tag"] == "big" and row["size_bytes"] == 6000


def test_bad_sort_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["ls", str(tmp_path), "--sort", "colour"]) == 2


def test_a_match_that_leaves_nothing_says_so(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """No silent empty output: stderr names the filter and how many caches it left out."""
    root = three_tags(tmp_path / "dir")
    assert main(["ls", str(root), "--match", "nomatch*"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == "no cache matches 'nomatch*' (of 3 caches listed)"


def test_a_failing_source_beside_a_filtered_one_is_partial(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 3 (partial), not 1: the good source listed its caches; --match only hid them."""
    root = three_tags(tmp_path / "dir")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "index.json").write_text("{not json")
    (broken / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    assert main(["ls", str(root), str(broken), "--match", "nomatch*"]) == 3
    err = capsys.readouterr().err
    assert "no cache matches 'nomatch*' (of 3 caches listed)" in err
    assert str(broken) in err

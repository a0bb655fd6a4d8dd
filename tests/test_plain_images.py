"""Plain images (not caches) have no min-versus-max figures: null in JSON, "-" in text and the TUI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cachetui.cli import main
from tests.prune_support import cache_manifest, plain_image, write_index


def mixed_dir(root: Path) -> Path:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    write_index(root, {"cache": cache_manifest(root, [b"a", b"b"], created),
                       "app": plain_image(root, [b"image layer"])})
    return root


def test_ls_json_gives_images_null_min_figures(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    root = mixed_dir(tmp_path / "dir")
    assert main(["ls", str(root), "--json"]) == 0
    rows = {row["tag"]: row for row in json.loads(capsys.readouterr().out)}
    image, cache = rows["app"], rows["cache"]
    assert image["format"] == "image" and image["is_cache"] is False
    for field in ("min_size_bytes", "max_over_min_bytes", "min_layer_count",
                  "intermediate_layer_count"):
        assert image[field] is None, field
        assert isinstance(cache[field], int), field
    assert image["size_bytes"] == len(b"image layer")

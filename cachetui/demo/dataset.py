"""The built-in demo set behind ``cachetui demo``: no network, no setup.

Several cache directories written by :mod:`cachetui.demo.generator`: min and max caches, zstd and
uncompressed ones, both legacy index forms, a CI-runner directory with several tags and stale
unreferenced blobs, and one broken directory that shows how errors look.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cachetui.demo.generator import CacheShape, write_cache, write_stale_blobs

DEMO_VERSION: Final = 2
FIXED_NOW: Final = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
_MARKER: Final = ".cachetui-demo.json"


def _shape(now: datetime, days_ago: float, **kwargs: object) -> CacheShape:
    created = now - timedelta(days=days_ago)
    return CacheShape(created=created, **kwargs)  # type: ignore[arg-type]


def _backdate(directory: Path, when: datetime) -> None:
    stamp = when.timestamp()
    for blob in (directory / "blobs" / "sha256").iterdir():
        os.utime(blob, (stamp, stamp))


def build_demo(root: str | Path, *, now: datetime | None = None) -> list[Path]:
    """Write the demo directories under ``root`` (reused when already built) and list them."""
    root = Path(root)
    now = now or FIXED_NOW
    stamp = {"version": DEMO_VERSION, "now": now.isoformat()}
    marker = root / _MARKER
    names = ["app-max", "app-min", "app-max-zstd", "app-min-uncompressed", "legacy-oci-index",
             "legacy-docker-list", "ci-runner", "broken"]
    if marker.is_file() and json.loads(marker.read_text()) == stamp:
        return [root / name for name in names]
    if root.exists():
        for name in names:
            shutil.rmtree(root / name, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)

    big = {"layer_bytes": 384 * 1024, "stages": 3, "steps_per_stage": 3, "final_steps": 3}
    write_cache(root / "app-max", "buildcache", _shape(now, 0.2, mode="max", seed=1, **big))
    write_cache(root / "app-min", "buildcache", _shape(now, 0.3, mode="min", seed=1, **big))
    write_cache(root / "app-max-zstd", "buildcache",
                _shape(now, 1.5, mode="max", compression="zstd", seed=2, **big))
    write_cache(root / "app-min-uncompressed", "buildcache",
                _shape(now, 3, mode="min", compression="uncompressed", seed=3,
                       layer_bytes=128 * 1024))
    write_cache(root / "legacy-oci-index", "latest",
                _shape(now, 40, mode="max", form="index", seed=4, layer_bytes=96 * 1024))
    write_cache(root / "legacy-docker-list", "latest",
                _shape(now, 95, mode="min", form="docker-list", seed=5, layer_bytes=96 * 1024))
    # A CI runner's directory: branches exported over time, main exported twice (the first
    # export's blobs are left behind, as without reset=true), plus leftovers of aborted exports.
    ci = root / "ci-runner"
    runner = {"layer_bytes": 160 * 1024, "seed": 6}
    write_cache(ci, "main", _shape(now, 9, mode="max", variant=0, **runner))
    write_cache(ci, "main", _shape(now, 1, mode="max", variant=1, **runner))
    write_cache(ci, "feature-login", _shape(now, 4, mode="max", variant=2, **runner))
    write_cache(ci, "release-1.4", _shape(now, 30, mode="min", variant=3, **runner))
    write_cache(ci, "renovate-deps", _shape(now, 21, mode="max", variant=4, **runner))
    write_stale_blobs(ci, 6, size=96 * 1024)
    # The blob files are as old as the exports that wrote them (a build writes them; cachetui
    # builds the demo much later): gc's grace period spares only blobs younger than minutes, so
    # the stale blobs of the runner are reclaimable now, as on a real CI disk.
    for name, days in (("app-max", 0.2), ("app-min", 0.3), ("app-max-zstd", 1.5),
                       ("app-min-uncompressed", 3), ("legacy-oci-index", 40),
                       ("legacy-docker-list", 95), ("ci-runner", 9)):
        _backdate(root / name, now - timedelta(days=days))
    # A directory whose index.json was cut off mid-write.
    broken = root / "broken"
    write_cache(broken, "latest", _shape(now, 2, mode="min", seed=7, layer_bytes=8 * 1024))
    index = broken / "index.json"
    index.write_bytes(index.read_bytes()[:57])
    marker.write_text(json.dumps(stamp))
    return [root / name for name in names]

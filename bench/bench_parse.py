"""Parse + analysis of a cache config with 20,000 records and 2,000 layers (budget: 200 ms).

Generates the cache with cachetui's own generator (tiny layers, real structure), then times
manifest parse + cache-config parse/validation + classification + min/max analysis, in process.

    .venv/bin/python -m bench.bench_parse
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from cachetui.buildkit.analysis import analyse
from cachetui.buildkit.document import build_document, config_descriptor
from cachetui.demo.generator import CacheShape, write_cache
from cachetui.oci.models import parse_top

BUDGET_SECONDS = 0.200
SHAPE = CacheShape(stages=105, steps_per_stage=19, final_steps=10, layer_bytes=64,
                   extra_records=17_990, seed=42)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        generated = write_cache(Path(tmp), "big", SHAPE)
        blobs = Path(tmp) / "blobs" / "sha256"
        manifest_raw = (blobs / generated.digest.hex).read_bytes()
        config_raw = (blobs / generated.config_digest.hex).read_bytes()
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        top = parse_top(manifest_raw)
        assert config_descriptor(top) is not None
        analysis = analyse(build_document(top, config_raw))
        runs.append(time.perf_counter() - start)
    best, median = min(runs), statistics.median(runs)
    print(f"records={analysis.record_count} layers={analysis.layer_count} "
          f"config={len(config_raw) / 1e6:.2f} MB manifest={len(manifest_raw) / 1e6:.2f} MB")
    print(f"parse+analysis: best {best * 1000:.1f} ms, median {median * 1000:.1f} ms "
          f"(budget {BUDGET_SECONDS * 1000:.0f} ms)")
    return 0 if median < BUDGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())

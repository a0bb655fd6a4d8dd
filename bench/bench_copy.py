"""Copy benchmark: a ~600 MB generated cache between two registries, cachetui vs ``skopeo copy``.

Both tools copy the same layer blobs from registry A to registry B (two docker-registry
instances on loopback), measured in the same run; skopeo copies an image made of the same layers
(it cannot copy index-form caches). Reports seconds, MB/s, the ratio (skopeo time / cachetui
time: >= 1 means cachetui is at least as fast) and cachetui's peak RSS (goal < 200 MiB).

    .venv/bin/python -m bench.bench_copy [TOTAL_MIB [ROUNDS]]
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.process import timed  # noqa: E402
from cachetui.demo.generator import CacheShape, write_cache  # noqa: E402
from cachetui.oci import mediatypes as mt  # noqa: E402
from cachetui.oci.digest import Digest  # noqa: E402
from cachetui.oci.models import Descriptor, Manifest, encode_json, parse_top  # noqa: E402
from cachetui.ops.copy import copy_cache  # noqa: E402
from cachetui.ops.load import load_document  # noqa: E402
from cachetui.store.layout import LayoutStore  # noqa: E402
from cachetui.store.registry import RegistrySession  # noqa: E402
from tests.registry_procs import start_registry  # noqa: E402


async def image_of(cache_dir: Path, image_dir: Path) -> None:
    """An OCI image with the cache's layers (one per blob), for skopeo, in a layout directory."""
    document = await load_document(LayoutStore(cache_dir), "latest")
    layers = list({d.digest: d for d in document.layers}.values())
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [document.diff_ids[d.digest] for d in layers]},
    }).encode()
    shutil.copytree(cache_dir, image_dir)
    store = LayoutStore(image_dir)
    config_descriptor = Descriptor(media_type=mt.OCI_IMAGE_CONFIG, digest=str(Digest.of(config)),
                                   size=len(config))
    await store.put_bytes(config_descriptor, config)
    plain = [Descriptor(media_type=d.media_type, digest=d.digest, size=d.size) for d in layers]
    raw = encode_json(Manifest(schema_version=2, config=config_descriptor, layers=plain,
                               media_type=mt.OCI_MANIFEST))
    await store.put_manifest(parse_top(raw, media_type=mt.OCI_MANIFEST), "image")


async def prepare(work: Path, total_mib: int, host_a: str) -> int:
    layer_mib = max(1, total_mib // 9)
    cache_dir = work / "cache"
    generated = write_cache(cache_dir, "latest", CacheShape(
        layer_bytes=layer_mib * 1024 * 1024, stages=3, compressibility=0.05, level=1))
    await image_of(cache_dir, work / "image")
    async with RegistrySession() as session:
        await copy_cache(LayoutStore(cache_dir), ["latest"], session.store(host_a, "bench/cache"))
        await copy_cache(LayoutStore(work / "image"), ["image"],
                         session.store(host_a, "bench/image"), "latest")
    document = await load_document(LayoutStore(cache_dir), "latest")
    del generated
    return sum({d.digest: d.size for d in document.layers}.values())


def timed_into_fresh_registry(work: Path, name: str, command: Callable[[str], list[str]]
                              ) -> tuple[float, float]:
    """One timed copy into a registry started for it (no blob of an earlier run to reuse or
    mount, no earlier run's writeback in flight: ``sync`` first)."""
    destination = start_registry(work / name)
    try:
        os.sync()
        return timed(command(destination.host))
    finally:
        destination.stop()
        shutil.rmtree(work / name, ignore_errors=True)


def main() -> None:
    total_mib = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory(prefix="bench-copy-") as tmp:
        work = Path(tmp)
        a = start_registry(work / "a")
        try:
            size = asyncio.run(prepare(work, total_mib, a.host))
            mb = size / 1e6
            print(f"cache: {mb:.0f} MB of layer blobs (9 layers) from {a.host}; each run copies "
                  f"into a fresh registry; {rounds} rounds, the order alternating")

            def skopeo(host: str) -> list[str]:
                return ["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                        "-q", f"docker://{a.host}/bench/image:latest",
                        f"docker://{host}/bench/image:latest"]

            def cachetui(host: str) -> list[str]:
                return [sys.executable, "-m", "cachetui", "copy", f"{a.host}/bench/cache:latest",
                        f"{host}/bench/cache:latest"]

            times: dict[str, list[float]] = {"skopeo": [], "cachetui": []}
            peak = 0.0
            for round_ in range(rounds):
                order = ["skopeo", "cachetui"] if round_ % 2 == 0 else ["cachetui", "skopeo"]
                for tool in order:
                    seconds, rss = timed_into_fresh_registry(
                        work, f"b{round_}-{tool}", skopeo if tool == "skopeo" else cachetui)
                    times[tool].append(seconds)
                    if tool == "cachetui":
                        peak = max(peak, rss)
            ours, theirs = statistics.median(times["cachetui"]), statistics.median(times["skopeo"])
            runs = {tool: " ".join(f"{t:.2f}" for t in values) for tool, values in times.items()}
            print(f"skopeo copy:   median {theirs:6.2f} s  {mb / theirs:7.1f} MB/s  "
                  f"(runs: {runs['skopeo']})")
            print(f"cachetui copy: median {ours:6.2f} s  {mb / ours:7.1f} MB/s  "
                  f"(runs: {runs['cachetui']})  peak RSS {peak:.0f} MiB")
            print(f"ratio (skopeo time / cachetui time): {theirs / ours:.2f}  (goal >= 1.0)")
            print(f"peak RSS goal < 200 MiB: {'ok' if peak < 200 else 'MISSED'}")
        finally:
            a.stop()


if __name__ == "__main__":
    main()

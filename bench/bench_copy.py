"""Copy benchmark: a ~600 MB generated cache between two registries, cachetui vs ``skopeo copy``.

Both tools copy the same layer blobs from registry A to registry B (two docker-registry
instances on loopback), measured in the same run; skopeo copies an image made of the same layers
(it cannot copy index-form caches). Reports seconds, MB/s, the ratio (skopeo time / cachetui
time: >= 1 means cachetui is at least as fast) and cachetui's peak RSS (goal < 200 MiB).

    .venv/bin/python -m bench.bench_copy [TOTAL_MIB [ROUNDS]]
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.process import process_cpu, timed_cpu  # noqa: E402
from bench.rounds import load, verdict  # noqa: E402
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


FLOOR_SCRIPT = r"""
# $1 host, $2 digest, $3 file: one monolithic upload (POST, then PUT with the whole body)
set -e
location=$(curl -sS -f -X POST -D - -o /dev/null "http://$1/v2/bench/floor/blobs/uploads/" \
  | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
case "$location" in http*) ;; *) location="http://$1$location" ;; esac
case "$location" in *\?*) sep='&' ;; *) sep='?' ;; esac
curl -sS -f -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$3" \
  -o /dev/null "$location${sep}digest=$2"
"""


def curl_floor_command(blobs: list[tuple[str, Path]], work: Path) -> Callable[[str], list[str]]:
    """Parallel monolithic uploads of the same blobs with curl (8 at a time): what the
    destination registry can take, with no client work beyond sending files."""
    script = work / "floor.sh"
    script.write_text(FLOOR_SCRIPT)
    listing = work / "floor.txt"
    listing.write_text("".join(f"{digest} {path}\n" for digest, path in blobs))

    def command(host: str) -> list[str]:
        return ["sh", "-c", f"xargs -P 8 -n 2 sh {script} {host} < {listing}"]
    return command


PULL_SCRIPT = r"""
# $1 host, $2 digest: one blob GET from the source registry, body discarded
curl -sS -f -o /dev/null "http://$1/v2/bench/cache/blobs/$2"
"""


def pull_floor(host: str, blobs: list[tuple[str, Path]], work: Path) -> float:
    """Wall seconds for curl (8 at a time) to GET every blob from the source registry: what
    reading the source costs a copy (the push floor reads local files instead)."""
    script = work / "pull.sh"
    script.write_text(PULL_SCRIPT)
    listing = work / "pull.txt"
    listing.write_text("".join(f"{digest}\n" for digest, _ in blobs))
    started = time.perf_counter()
    subprocess.run(["sh", "-c", f"xargs -P 8 -n 1 sh {script} {host} < {listing}"], check=True)
    return time.perf_counter() - started


STARTUP_IMPORTS = ("import cachetui.entry, cachetui.cli.copy_cmd, cachetui.store.registry, "
                   "cachetui.store.registry.aio")
"""What a registry copy imports before its first blob moves (``--version`` imports none of it;
the registry package loads aiohttp only with ``aio``, which blobs go through)."""


def startup_seconds() -> float:
    """Wall seconds of the interpreter and a registry copy's imports, paid once."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", STARTUP_IMPORTS], check=True, cwd=REPO_ROOT,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def timed_into_fresh_registry(work: Path, name: str, command: Callable[[str], list[str]]
                              ) -> tuple[float, float, float, float]:
    """One timed copy into a registry started for it (no blob of an earlier run to reuse or
    mount, no earlier run's writeback in flight: ``sync`` first): wall seconds, peak RSS, the
    client's CPU seconds and the destination registry's."""
    destination = start_registry(work / name)
    try:
        os.sync()
        before = process_cpu(destination.process.pid)
        seconds, rss, cpu = timed_cpu(command(destination.host))
        return seconds, rss, cpu, process_cpu(destination.process.pid) - before
    finally:
        destination.stop()
        shutil.rmtree(work / name, ignore_errors=True)


def sha256_seconds(paths: list[Path]) -> float:
    """CPU seconds to hash the blobs once (cachetui hashes every blob as it streams)."""
    started = time.process_time()
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return time.process_time() - started


def main() -> None:
    total_mib = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory(prefix="bench-copy-") as tmp:
        work = Path(tmp)
        a = start_registry(work / "a")
        try:
            size = asyncio.run(prepare(work, total_mib, a.host))
            mb = size / 1e6
            document = asyncio.run(load_document(LayoutStore(work / "cache"), "latest"))
            blobs = [(d.digest, work / "cache" / "blobs" / "sha256" / d.digest[7:])
                     for d in {d.digest: d for d in document.layers}.values()]
            print(f"cache: {mb:.0f} MB of layer blobs ({len(blobs)} layers) from {a.host}; each "
                  f"run copies into a fresh registry; {rounds} rounds, the order alternating")

            def skopeo(host: str) -> list[str]:
                return ["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                        "-q", f"docker://{a.host}/bench/image:latest",
                        f"docker://{host}/bench/image:latest"]

            def cachetui(host: str) -> list[str]:
                return [sys.executable, "-m", "cachetui", "copy", f"{a.host}/bench/cache:latest",
                        f"{host}/bench/cache:latest"]

            tools = {"skopeo": skopeo, "cachetui": cachetui, "floor": curl_floor_command(blobs, work)}
            figures: dict[str, list[tuple[float, float, float, float]]] = {t: [] for t in tools}
            for round_ in range(rounds):
                order = list(tools) if round_ % 2 == 0 else list(reversed(tools))
                for tool in order:
                    figures[tool].append(timed_into_fresh_registry(
                        work, f"b{round_}-{tool}", tools[tool]))
            a_cpu = process_cpu(a.process.pid)
            pulls = statistics.median(pull_floor(a.host, blobs, work) for _ in range(rounds))
            startup = statistics.median(startup_seconds() for _ in range(rounds))
        finally:
            a.stop()
        hashing = sha256_seconds([path for _, path in blobs])

    def median(tool: str, index: int) -> float:
        return statistics.median(f[index] for f in figures[tool])

    ours, theirs, floor = median("cachetui", 0), median("skopeo", 0), median("floor", 0)
    peak = max(f[1] for f in figures["cachetui"])
    print(f"median of {rounds} alternating rounds; {load()}")
    for tool, label in (("floor", "floor: curl x8 monolithic PUTs"), ("skopeo", "skopeo copy"),
                        ("cachetui", "cachetui copy")):
        seconds = median(tool, 0)
        print(f"{label:31s} {seconds:6.2f} s  {mb / seconds:7.1f} MB/s  client CPU "
              f"{median(tool, 2):5.2f} s  destination registry CPU {median(tool, 3):5.2f} s")
    print(f"where the time goes (cachetui): sha256 of the blobs once costs {hashing:.2f} CPU s "
          f"here (cachetui hashes each blob once as it streams, the destination registry hashes "
          f"it again); source registry CPU over the whole run {a_cpu:.1f} s")
    print(f"cachetui / floor: {ours / floor:.2f}x the floor's time; peak RSS {peak:.0f} MiB")
    best = theirs / floor
    print(f"best possible skopeo / cachetui ratio = skopeo / floor = {best:.2f}: a copy cannot "
          f"push faster than the floor, so the 1.5 goal is "
          f"{'within reach' if best >= 1.5 else f'out of reach by {1.5 / best:.2f}x'} "
          f"on this machine")
    gap = ours - floor
    print(f"cachetui - floor = {gap:.2f} s, measured parts: start-up (interpreter and imports) "
          f"{startup:.2f} s; reading the source (curl x8 GETs of the same blobs from the source "
          f"registry, alone) {pulls:.2f} s, overlapped with the push; client CPU "
          f"{median('cachetui', 2):.2f} s "
          f"vs skopeo {median('skopeo', 2):.2f} s vs curl {median('floor', 2):.2f} s on "
          f"{os.cpu_count()} cores shared with both registries; destination registry CPU "
          f"{median('cachetui', 3):.2f} s vs {median('floor', 3):.2f} s for the floor")
    print(f"goal skopeo time / cachetui time >= 1.5: {verdict(theirs / ours >= 1.5)} "
          f"({theirs / ours:.2f}; at most {best:.2f} is possible here); "
          f"goal peak RSS < 200 MiB: {verdict(peak < 200)}")


if __name__ == "__main__":
    main()

"""Inventory benchmark: ``cachetui ls --json`` of 300 distinct caches, against the physical floor
and skopeo, all measured in the same run.

Fills a loopback ``docker-registry`` with 300 tags of 300 *distinct* caches (300 manifests, 300
cache configs; three forms, min and max, made by ``cachetui.demo.generator``) and times:

- the floor: one ``curl --parallel --parallel-max 8`` process (keep-alive) fetching exactly the
  URLs cachetui needs (the tag list, every manifest, every config), all known in advance; and
  the same with as many transfers in flight as cachetui keeps (16, its default per registry);
  the goal is judged against the faster of the two, so more requests in flight cannot flatter
  cachetui;
- ``cachetui ls --json HOST/REPO`` in a child process, cold start included: cold (an empty
  on-disk cache) and warm (the second look: tags resolved, manifests and configs from disk);
- the Python floors (``bench/python_floor.py``): a process that only fetches those URLs, on the
  engine cachetui's lean reads stand on (libcurl's multi interface, pycurl), on asyncio and
  aiohttp (what they stood on before), and with blocking ``http.client`` in 8 threads;
- ``skopeo list-tags`` plus ``skopeo inspect --raw`` of every tag (raw manifests only);
- the floor and cachetui cold again with the registry on one core and the client on the other
  (``bench/cores.py``): what cachetui costs over the floor when it takes no CPU from the registry.

Goals (issue 13): cold cachetui within 1.5x of the floor and at least 10x faster than skopeo.
Rounds alternate (9 by default: with 3, the median moved by 0.1x between runs, and with 5 the
faster of the two curl floors, each a median of 5, still moved by 0.05x); medians are compared.

    .venv/bin/python bench/bench_inventory.py [ROUNDS]
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
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

from bench.cores import can_separate, separate_cores  # noqa: E402
from bench.fill import push_variants, variants  # noqa: E402
from bench.process import process_cpu  # noqa: E402
from bench.rounds import alternate, load, verdict  # noqa: E402
from cachetui.demo.generator import CacheShape, write_cache  # noqa: E402
from cachetui.oci import mediatypes as mt  # noqa: E402
from cachetui.store.registry.settings import DEFAULT_CONCURRENCY  # noqa: E402
from tests.registry_procs import start_registry  # noqa: E402

CACHES = 300
BASES = 30
REPO = "bench/app"
FORMS = ("image-manifest", "index", "docker-list")


def write_bases(layout: Path) -> list[str]:
    tags = []
    for i in range(BASES):
        write_cache(layout, f"m{i:02d}", CacheShape(
            form=FORMS[i % 3], mode="max" if i % 2 else "min", seed=i, variant=i,  # type: ignore[arg-type]
            layer_bytes=8 * 1024, extra_records=50))
        tags.append(f"m{i:02d}")
    return tags


def curl_floor(curl: str, config: Path, preexec: Callable[[], None] | None = None, *,
               in_flight: int = 8) -> float:
    started = time.perf_counter()
    subprocess.run([curl, "--parallel", "--parallel-max", str(in_flight), "--silent",
                    "--show-error", "--no-progress-meter", "--fail",
                    "-H", f"Accept: {mt.ACCEPT_ALL_MANIFESTS}", "-K", str(config)],
                   check=True, preexec_fn=preexec)
    return time.perf_counter() - started


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cachetui(target: str, cache_dir: Path, expect: int,
                 cpu: list[float] | None = None, preexec: Callable[[], None] | None = None
                 ) -> float:
    """Wall seconds of one ``ls --json``; its CPU seconds (user + system) go to ``cpu``."""
    started, before = time.perf_counter(), children_cpu()
    done = subprocess.run([sys.executable, "-m", "cachetui", "ls", "--json", target],
                          capture_output=True, check=True, cwd=REPO_ROOT, preexec_fn=preexec,
                          env={**os.environ, "CACHETUI_CACHE_DIR": str(cache_dir)})
    elapsed = time.perf_counter() - started
    if cpu is not None:
        cpu.append(children_cpu() - before)
    rows = json.loads(done.stdout)
    assert len(rows) == expect and len({row["digest"] for row in rows}) == expect, len(rows)
    return elapsed


def run_startup(empty: Path) -> float:
    """``cachetui ls --json`` of an empty directory: the interpreter and imports, no network."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cachetui", "ls", "--json", str(empty)],
                   capture_output=True, cwd=REPO_ROOT)
    return time.perf_counter() - started


def run_registry_startup(host: str) -> float:
    """``cachetui ls --json`` of a repository the registry does not have: the interpreter, the
    registry stack's imports and one answered request (a 404), no caches."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cachetui", "ls", "--json", "--no-cache",
                    f"{host}/bench/absent"], capture_output=True, cwd=REPO_ROOT)
    return time.perf_counter() - started


def run_python_floor(how: str, urls_file: Path, expect: int) -> float:
    """Wall seconds of ``bench/python_floor.py how``, from its start (see that module)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "python_floor.py"), how,
                           str(urls_file)], capture_output=True, check=True, text=True)
    elapsed = time.perf_counter() - started
    assert int(done.stdout) == expect, done.stdout
    return elapsed


def run_skopeo(skopeo: str, target: str, expect: int) -> float:
    started = time.perf_counter()
    listed = subprocess.run([skopeo, "list-tags", "--tls-verify=false", f"docker://{target}"],
                            capture_output=True, check=True)
    tags = json.loads(listed.stdout)["Tags"]
    for tag in tags:
        subprocess.run([skopeo, "inspect", "--raw", "--tls-verify=false",
                        f"docker://{target}:{tag}"], capture_output=True, check=True)
    assert len(tags) == expect
    return time.perf_counter() - started


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    skopeo, curl = shutil.which("skopeo"), shutil.which("curl")
    if skopeo is None or curl is None:
        print("skopeo and curl are needed (apt-get install skopeo curl)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="cachetui-bench-") as tmp:
        work = Path(tmp)
        bases = write_bases(work / "layout")
        items = asyncio.run(variants(work / "layout", bases, CACHES, "inventory"))
        running = start_registry(work / "registry")
        try:
            tags = asyncio.run(push_variants(running.host, REPO, work / "layout", bases, items))
            base_url = f"http://{running.host}/v2/{REPO}"
            urls = [f"{base_url}/tags/list"]
            urls += [f"{base_url}/manifests/{tag}" for tag in tags]
            urls += [f"{base_url}/blobs/{item.config.digest}" for item in items]
            config = work / "curl.conf"
            config.write_text("".join(f'url = "{url}"\noutput = "/dev/null"\n' for url in urls))
            urls_file = work / "urls.txt"
            urls_file.write_text("\n".join([mt.ACCEPT_ALL_MANIFESTS, *urls]) + "\n")
            target = f"{running.host}/{REPO}"
            # An installed cachetui has bytecode: compile once, as an install would.
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO_ROOT / "cachetui")],
                           check=True)
            warm_dir = work / "warm-cache"
            run_cachetui(target, warm_dir, CACHES)  # fills the warm cache; warms the OS caches
            cold_dirs = iter(range(10**6))
            empty = work / "empty"
            empty.mkdir()
            cold_cpu: list[float] = []
            served: dict[str, list[float]] = {"floor": [], "cold": []}
            pid = running.process.pid

            def serving(name: str, run: Callable[[], float]) -> Callable[[], float]:
                """``run``, with the registry's CPU seconds meanwhile kept under ``name``."""
                def measured() -> float:
                    before = process_cpu(pid)
                    seconds = run()
                    served[name].append(process_cpu(pid) - before)
                    return seconds
                return measured

            medians = alternate(rounds, {
                "startup": lambda: run_startup(empty),
                "registry startup": lambda: run_registry_startup(running.host),
                "floor": serving("floor", lambda: curl_floor(curl, config)),
                "floor wide": lambda: curl_floor(curl, config, in_flight=DEFAULT_CONCURRENCY),
                "cold": serving("cold", lambda: run_cachetui(
                    target, work / f"cold-{next(cold_dirs)}", CACHES, cold_cpu)),
                "warm": lambda: run_cachetui(target, warm_dir, CACHES),
                "pycurl floor": lambda: run_python_floor("pycurl", urls_file, len(urls)),
                "aiohttp floor": lambda: run_python_floor("aiohttp", urls_file, len(urls)),
                "threads floor": lambda: run_python_floor("threads", urls_file, len(urls)),
                "skopeo": lambda: run_skopeo(skopeo, target, CACHES),
            })
            apart: dict[str, float] = {}
            if can_separate():
                with separate_cores(pid) as on_client_core:
                    apart = alternate(rounds, {
                        "floor": lambda: curl_floor(curl, config, on_client_core),
                        "cold": lambda: run_cachetui(target, work / f"cold-{next(cold_dirs)}",
                                                     CACHES, preexec=on_client_core),
                    })
        finally:
            running.stop()
    floor8, wide, cold, warm, theirs = (medians[k] for k in ("floor", "floor wide", "cold", "warm",
                                                               "skopeo"))
    floor = min(floor8, wide)
    print(f"{CACHES} tags of {CACHES} distinct caches ({len(urls)} requests); median of {rounds} "
          f"alternating rounds; {load()}")
    print(f"floor: curl --parallel-max 8, same URLs:   {floor8:6.2f} s")
    print(f"  curl --parallel-max {DEFAULT_CONCURRENCY} (as many in flight as cachetui): "
          f"{wide:6.2f} s; the floor below is the faster: {floor:.2f} s")
    print(f"cachetui ls --json, cold (empty cache):   {cold:6.2f} s  {cold / floor:5.2f}x the floor"
          f"  (CPU {statistics.median(cold_cpu):.2f} s)")
    print(f"cachetui ls --json, warm (second look):   {warm:6.2f} s  {warm / floor:5.2f}x the floor")
    startup, reached = medians["startup"], medians["registry startup"]
    print(f"  of which start-up (ls of an empty dir): {startup:6.2f} s; cold minus start-up "
          f"{cold - startup:.2f} s = {(cold - startup) / floor:.2f}x the floor")
    print(f"  start-up of a registry ls (ls of an absent repository: the HTTP stack's imports and "
          f"one request): {reached:.2f} s; cold minus that {cold - reached:.2f} s = "
          f"{(cold - reached) / floor:.2f}x the floor")
    floor_cpu, cold_served = (statistics.median(served[k]) for k in ("floor", "cold"))
    client_cpu = statistics.median(cold_cpu)
    print(f"  CPU on the 2 cores: the floor's requests cost the registry {floor_cpu:.2f} s; "
          f"cachetui cold cost it {cold_served:.2f} s plus its own {client_cpu:.2f} s; "
          f"spread evenly over the cores that alone takes "
          f"{(cold_served + client_cpu) / (os.cpu_count() or 2):.2f} s")
    if apart:
        print(f"  the registry on one core, the client on the other (no CPU shared): floor "
              f"{apart['floor']:.2f} s, cachetui cold {apart['cold']:.2f} s = "
              f"{apart['cold'] / apart['floor']:.2f}x the floor")
    engine, aio, threaded = (medians[k] for k in ("pycurl floor", "aiohttp floor",
                                                   "threads floor"))
    print(f"  Python floor, pycurl multi (libcurl: what cachetui's lean reads stand on), 8 "
          f"transfers, same URLs, nothing else: {engine:.2f} s = {engine / floor:.2f}x the floor; "
          f"cachetui cold is {cold / engine:.2f}x it")
    print(f"  Python floor, asyncio + aiohttp (what the lean reads stood on before), 8 tasks: "
          f"{aio:.2f} s = {aio / floor:.2f}x the floor")
    print(f"  Python floor, blocking http.client in 8 threads, no event loop: {threaded:.2f} s = "
          f"{threaded / floor:.2f}x the floor")
    print(f"skopeo list-tags + inspect --raw x{CACHES}: {theirs:6.2f} s  "
          f"{theirs / cold:5.1f}x cachetui cold")
    print(f"skopeo / floor: {theirs / floor:5.1f}x  (the most any client fetching these URLs "
          f"could be ahead of skopeo; at 1.5x the floor, {theirs / floor / 1.5:.1f}x)")
    if theirs / floor < 10:
        print(f"  => 10x skopeo is out of reach here: even the floor is only "
              f"{theirs / floor:.1f}x faster than skopeo on this registry")
    met_floor, met_peer = cold / floor <= 1.5, theirs / cold >= 10
    print(f"goal cold <= 1.5x the floor: {verdict(met_floor)} ({cold / floor:.2f}x); "
          f"goal skopeo/cachetui >= 10x: {verdict(met_peer)} ({theirs / cold:.1f}x)")
    return 0 if met_floor and met_peer else 1


if __name__ == "__main__":
    raise SystemExit(main())

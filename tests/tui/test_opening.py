"""Opening a source in the TUI imports its store modules in a thread, not on the event loop.

Each check runs in a fresh interpreter: in the test process these modules are imported already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cachetui.locations import KINDS
from cachetui.oci.reference import parse_reference
from cachetui.store.registry import RegistrySession
from cachetui.tui.opening import STORE_MODULES
from tests.fixtures import fixture_dir
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, push_layout, unique_repo

REPO_ROOT = Path(__file__).resolve().parents[2]

OPEN_SOURCE = r"""
import asyncio, json, sys, threading

where = {}


class Watch:
    # records which thread first imports each module, then lets the real finders find it
    def find_spec(self, name, path=None, target=None):
        where.setdefault(name, threading.current_thread().name)


sys.meta_path.insert(0, Watch())
from cachetui.tui.app import make_app
from cachetui.tui.model import SourceStatus
from cachetui.tui.screens.main import MainScreen


async def main():
    app = make_app([sys.argv[1]], use_config_sources=False)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(600):
            await pilot.pause(0.05)
            screen = app.screen
            if isinstance(screen, MainScreen) and len(screen.sources) >= 2 and all(
                    s.status is SourceStatus.DONE for s in screen.sources.values()):
                break
        names = sorted(s.label for s in screen.sources.values())
    return threading.current_thread().name, names


loop, sources = asyncio.run(main())
print(json.dumps({"loop": loop, "sources": sources, "where": where}))
"""

OPEN_AFTER_PRELOAD = r"""
import asyncio, json, sys
from cachetui.locations import Workspace, parse_location
from cachetui.tui.opening import preload

location = parse_location(sys.argv[1])
asyncio.run(preload([location]))
before = set(sys.modules)
workspace = Workspace(None)
if location.kind == "registry-host":
    workspace.registry_session()
else:
    workspace.open(location)
print(json.dumps(sorted(set(sys.modules) - before)))
"""


async def fill(registry: RunningRegistry, repository: str) -> None:
    async with RegistrySession(fast_settings()) as session:
        ref = parse_reference(f"{registry.host}/{repository}", default_tag=False)
        await push_layout(session.repository(ref),
                          fixture_dir("buildkit-registry", "app-buildcache-min"), "cache",
                          "buildcache-min")


def run_python(script: str, argument: str, tmp_path: Path) -> str:
    env = {**os.environ, "CACHETUI_CONFIG": str(tmp_path / "no-config.toml"),
           "CACHETUI_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", script, argument], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()[-1]


async def test_the_tui_imports_a_registry_hosts_http_stack_off_the_event_loop(
        registry: RunningRegistry, tmp_path: Path) -> None:
    """The imports took one loop step of 130-170 ms CPU: the worst stall of the TUI while a
    registry's 3,000 rows filled (bench/bench_scale.py). The host is listed as before."""
    repository = unique_repo("preload")
    await fill(registry, repository)
    out = json.loads(run_python(OPEN_SOURCE, registry.host, tmp_path))
    assert registry.host in out["sources"] and repository in out["sources"]
    loop = out["loop"]
    heavy = ["aiohttp", "aiohttp.connector", "httpx", "cachetui.store.registry.session",
             "cachetui.store.registry.store", "cachetui.store.vendor.opener"]
    on_loop = [name for name in heavy if out["where"].get(name) == loop]
    assert not on_loop, f"imported on the event loop's thread: {on_loop}"
    assert all(name in out["where"] for name in heavy), out["where"].keys()


@pytest.mark.parametrize("text", [
    "DIR", "127.0.0.1:1/team/app", "127.0.0.1:1", "type=inline,ref=127.0.0.1:1/team/app:v1",
    "s3://caches/ci/", "azblob://acct/cont/pre", "gha://octo/app?scope=main",
])
def test_after_preload_opening_a_store_imports_nothing(text: str, tmp_path: Path) -> None:
    """:data:`STORE_MODULES` lists everything each kind's opener imports (when an opener starts
    importing more, this fails and the list grows)."""
    if text == "DIR":
        text = str(tmp_path)
    new = json.loads(run_python(OPEN_AFTER_PRELOAD, text, tmp_path))
    assert new == []


def test_every_kind_has_its_modules() -> None:
    assert set(STORE_MODULES) == set(KINDS)

"""A store opened after start-up (a source added with ``o``, a copy destination) is made ready off
the event loop: its store modules are imported and its registry TLS context made in a thread.

Before, a registry opened after start-up imported aiohttp, httpx and the registry client on the
loop (one step of 130-170 ms CPU), and its first HTTPS request parsed the system's CA bundle
there (20-40 ms). Each run is a fresh interpreter (in the test process the registry stack is
imported already) on the TLS test registry, trusted through its CA file only: every connection
is still verified.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cachetui.oci.reference import parse_reference
from cachetui.store.registry import RegistrySession
from tests.fixtures import fixture_dir
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, push_layout, unique_repo

REPO_ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import asyncio, json, ssl, sys, threading, time

mode, local, host, ca_file, target = sys.argv[1:6]
imported, contexts = {}, []


class Watch:
    # records which thread first imports each module, then lets the real finders find it
    def find_spec(self, name, path=None, target=None):
        imported.setdefault(name, threading.current_thread().name)


sys.meta_path.insert(0, Watch())
create = ssl.create_default_context


def recorded(*args, **kwargs):
    contexts.append(threading.current_thread().name)
    return create(*args, **kwargs)


ssl.create_default_context = recorded

from textual.widgets import Input, Static
from cachetui.tui.app import make_app
from cachetui.tui.model import SourceStatus
from cachetui.tui.screens.main import MainScreen


def settings():
    from cachetui.store.registry.settings import RegistrySettings
    return RegistrySettings(tls_hosts=frozenset({host}), ca_files={host: ca_file},
                            connect_timeout=5.0, stall_timeout=10.0)


async def until(pilot, done, what):
    for _ in range(1200):
        if done():
            return
        await pilot.pause(0.05)
    raise SystemExit(f"timed out waiting for {what}")


async def main():
    app = make_app([local], use_config_sources=False, registry_settings=settings)
    step_cpu, measuring = 0.0, False
    run_step = asyncio.events.Handle._run

    def timed_step(handle):
        nonlocal step_cpu
        started = time.thread_time()
        try:
            run_step(handle)
        finally:
            if measuring:
                step_cpu = max(step_cpu, time.thread_time() - started)

    asyncio.events.Handle._run = timed_step
    async with app.run_test(size=(120, 36)) as pilot:
        def main_screen():
            screens = [s for s in app.screen_stack if isinstance(s, MainScreen)]
            return screens[0] if screens else None

        def all_done(count):
            main = main_screen()
            return main is not None and len(main.sources) >= count and all(
                s.status in (SourceStatus.DONE, SourceStatus.FAILED)
                for s in main.sources.values())

        await until(pilot, lambda: all_done(1), "the local source")
        main = main_screen()
        await pilot.pause(0.2)
        assert "aiohttp" not in sys.modules, "the registry stack was loaded at start-up"
        measuring = True
        if mode == "add":
            await pilot.press("o")
            await until(pilot, lambda: app.screen.query("#open-source-input"), "the dialog")
            app.screen.query_one("#open-source-input", Input).value = target
            await pilot.press("enter")
            await until(pilot, lambda: all_done(2), "the added source")
            outcome = sorted((s.label, s.status.name, s.error) for s in main.sources.values())
        else:
            await pilot.press("c")
            await until(pilot, lambda: app.screen.query("#copy-dest"), "the copy dialog")
            app.screen.query_one("#copy-dest", Input).value = target
            plan = lambda: str(app.screen.query_one("#copy-plan-text", Static).content)
            error = lambda: str(app.screen.query_one("#copy-error").content)
            await until(pilot, lambda: "copied" in plan() or error(), "the copy plan")
            outcome = [plan(), error()]
        measuring = False
        await pilot.press("escape")
    asyncio.events.Handle._run = run_step
    return threading.current_thread().name, outcome, step_cpu


loop, outcome, step_cpu = asyncio.run(main())
print(json.dumps({"loop": loop, "outcome": outcome, "step_cpu": step_cpu,
                  "imported": imported, "contexts": contexts}))
"""

HEAVY = ["aiohttp", "aiohttp.connector", "httpx", "cachetui.store.registry.session",
         "cachetui.store.registry.store", "cachetui.store.vendor.opener"]
STEP_LIMIT = 0.08
"""Longest loop step (CPU of the loop's thread) while the store opens. The imports alone took
130-180 ms in one step (this test before the change: 181 ms adding a source, 141 ms in the copy
dialog); after it the longest step is a screen update (14 and 20 ms)."""


def run_child(mode: str, local: Path, registry: RunningRegistry, target: str,
              tmp_path: Path) -> dict[str, object]:
    assert registry.ca_file is not None
    env = {**os.environ, "CACHETUI_CONFIG": str(tmp_path / "no-config.toml"),
           "CACHETUI_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", CHILD, mode, str(local), registry.host,
                           str(registry.ca_file), target], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return found


def assert_off_the_loop(out: dict[str, object]) -> None:
    loop = out["loop"]
    imported = out["imported"]
    assert isinstance(imported, dict)
    assert all(name in imported for name in HEAVY), sorted(imported)
    on_loop = [name for name in HEAVY if imported[name] == loop]
    assert not on_loop, f"imported on the event loop's thread: {on_loop}"
    contexts = out["contexts"]
    assert isinstance(contexts, list)
    assert contexts, "no TLS context was made (the registry was not reached over TLS?)"
    assert loop not in contexts, f"a TLS context was made on the event loop: {contexts}"
    assert isinstance(out["step_cpu"], float) and out["step_cpu"] < STEP_LIMIT, out["step_cpu"]


@pytest.fixture
def tls_repository(registry_tls: RunningRegistry) -> str:
    return f"{registry_tls.host}/{unique_repo('later')}"


async def test_a_registry_source_added_after_start_up_opens_off_the_loop(
        registry_tls: RunningRegistry, demo_dirs: list[Path], tls_repository: str,
        tmp_path: Path) -> None:
    """``o`` then HOST/REPO on a TLS registry: listed (verified with its CA file), and nothing
    heavy ran on the loop."""
    assert registry_tls.ca_file is not None
    settings = fast_settings(tls_hosts=frozenset({registry_tls.host}),
                             ca_files={registry_tls.host: str(registry_tls.ca_file)})
    async with RegistrySession(settings) as session:
        await push_layout(session.repository(parse_reference(tls_repository, default_tag=False)),
                          fixture_dir("buildkit-registry", "app-buildcache-min"), "cache",
                          "buildcache-min")
    out = run_child("add", demo_dirs[0], registry_tls, tls_repository, tmp_path)
    outcome = out["outcome"]
    assert isinstance(outcome, list)
    assert [tls_repository, "DONE", None] in outcome
    assert_off_the_loop(out)


async def test_a_copy_to_a_registry_destination_opens_it_off_the_loop(
        registry_tls: RunningRegistry, demo_dirs: list[Path], tls_repository: str,
        tmp_path: Path) -> None:
    """The copy dialog plans a copy to a TLS registry that was not open: the plan shows (the
    destination was read, verified with its CA file), and nothing heavy ran on the loop."""
    out = run_child("copy", demo_dirs[0], registry_tls, f"{tls_repository}:copied", tmp_path)
    outcome = out["outcome"]
    assert isinstance(outcome, list)
    plan, error = outcome
    assert error == "" and "-> copied" in plan, (plan, error)
    assert_off_the_loop(out)

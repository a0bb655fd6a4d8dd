"""A store opened after start-up (a source added with ``o``, a copy destination) is made ready off
the event loop: its store modules are imported and its TLS context made in a thread.

Before, a registry opened after start-up imported aiohttp, httpx and the registry client on the
loop (one step of 130-170 ms CPU), and its first HTTPS request parsed the system's CA bundle
there (20-40 ms); an s3 or azblob store made its httpx client's TLS context (certifi's bundle,
or the system's plus a private CA) on the loop as it opened. Each run is a fresh interpreter (in
the test process these stacks are imported already) on the TLS test registry or Azurite over
HTTPS, trusted through their CA files only: every connection is still verified.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cachetui.oci.reference import parse_reference
from cachetui.store.azblob import AzblobBackend
from cachetui.store.registry import RegistrySession
from tests.fixtures import fixture_dir
from tests.objstore_procs import Azurite, Moto, load_s3
from tests.objstore_servers import az_loaded, unique_name
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
OBJECT_HEAVY = ["httpx", "httpcore", "cachetui.store.objspec", "cachetui.store.s3",
                "cachetui.store.azblob"]
STEP_LIMIT = 0.08
"""Longest loop step (CPU of the loop's thread) while the store opens. The imports alone took
130-180 ms in one step (this test before the change: 181 ms adding a source, 141 ms in the copy
dialog); after it the longest step is a screen update (14 and 20 ms)."""


def run_child(mode: str, local: Path, target: str, tmp_path: Path, *,
              registry: RunningRegistry | None = None,
              env: dict[str, str] | None = None) -> dict[str, object]:
    """Run :data:`CHILD`; ``registry``: the TLS registry the registry settings trust."""
    host, ca_file = ("-", "-") if registry is None else (registry.host, str(registry.ca_file))
    environ = {**os.environ, "CACHETUI_CONFIG": str(tmp_path / "no-config.toml"),
               "CACHETUI_CACHE_DIR": str(tmp_path / "cache"), **(env or {})}
    done = subprocess.run([sys.executable, "-c", CHILD, mode, str(local), host, ca_file, target],
                          cwd=REPO_ROOT, env=environ, capture_output=True, text=True, timeout=240,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return found


def assert_off_the_loop(out: dict[str, object], heavy: list[str] = HEAVY) -> None:
    loop = out["loop"]
    imported = out["imported"]
    assert isinstance(imported, dict)
    assert all(name in imported for name in heavy), sorted(imported)
    on_loop = [name for name in heavy if imported[name] == loop]
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
    out = run_child("add", demo_dirs[0], tls_repository, tmp_path, registry=registry_tls)
    outcome = out["outcome"]
    assert isinstance(outcome, list)
    assert [tls_repository, "DONE", None] in outcome
    assert_off_the_loop(out)


async def test_a_copy_to_a_registry_destination_opens_it_off_the_loop(
        registry_tls: RunningRegistry, demo_dirs: list[Path], tls_repository: str,
        tmp_path: Path) -> None:
    """The copy dialog plans a copy to a TLS registry that was not open: the plan shows (the
    destination was read, verified with its CA file), and nothing heavy ran on the loop."""
    out = run_child("copy", demo_dirs[0], f"{tls_repository}:copied", tmp_path,
                    registry=registry_tls)
    outcome = out["outcome"]
    assert isinstance(outcome, list)
    plan, error = outcome
    assert error == "" and "-> copied" in plan, (plan, error)
    assert_off_the_loop(out)


def assert_listed(out: dict[str, object]) -> None:
    """Both sources (the local one and the one added) listed without an error."""
    outcome = out["outcome"]
    assert isinstance(outcome, list) and len(outcome) == 2, outcome
    assert all(status == "DONE" and error is None for _, status, error in outcome), outcome


async def test_an_s3_source_added_after_start_up_makes_its_tls_context_off_the_loop(
        moto: Moto, demo_dirs: list[Path], tmp_path: Path) -> None:
    """``o`` then a ``type=s3`` spec on moto: listed, and its modules and its client's TLS
    context (httpx makes it with the client, certifi's bundle, even for a plain-HTTP endpoint
    like this one) were made off the loop (before: on the loop, as the store opened)."""
    bucket = unique_name("later")
    await asyncio.to_thread(load_s3, moto, bucket, "two-builds")
    target = (f"type=s3,bucket={bucket},region=us-east-1,endpoint_url={moto.endpoint},"
              f"use_path_style=true,access_key_id={moto.access_key},"
              f"secret_access_key={moto.secret_key}")
    out = run_child("add", demo_dirs[0], target, tmp_path)
    assert_listed(out)
    assert_off_the_loop(out, OBJECT_HEAVY)


async def test_an_azblob_source_on_a_private_ca_added_after_start_up_opens_off_the_loop(
        azurite_oauth: Azurite, demo_dirs: list[Path], tmp_path: Path) -> None:
    """``o`` then a ``type=azblob`` spec on Azurite over HTTPS, trusted through
    ``CACHETUI_CA_FILE`` only: listed (verified with the CA file: the context made ahead is the
    one the client uses), and its TLS context made off the loop."""
    assert azurite_oauth.ca_file is not None
    store = await az_loaded(azurite_oauth, "two-builds")
    assert isinstance(store.backend, AzblobBackend)
    container = store.backend.settings.container
    await store.aclose()
    target = (f"type=azblob,account_url={azurite_oauth.account_url},"
              f"account_name={azurite_oauth.account},container={container},"
              f"secret_access_key={azurite_oauth.key}")
    out = run_child("add", demo_dirs[0], target, tmp_path,
                    env={"CACHETUI_CA_FILE": azurite_oauth.ca_file})
    assert_listed(out)
    assert_off_the_loop(out, OBJECT_HEAVY)

"""The TUI on a real registry: registry flags from the command line reach the app's session, and a
HOST source lists the catalog's repositories under the registry in the sources tree."""

from __future__ import annotations

import argparse
import io
import sys

import pytest

from cachetui.cli import build_parser, open_cmd
from cachetui.cli.registry_args import registry_settings
from cachetui.config import Config
from cachetui.entry import install
from cachetui.oci.reference import parse_reference
from cachetui.store.registry import RegistrySession
from cachetui.tui.app import CachetuiApp, make_app
from cachetui.tui.model import SourceStatus
from cachetui.tui.screens.main import MainScreen
from cachetui.tui.widgets.sources_tree import SourcesTree
from tests.fixtures import fixture_dir
from tests.registry_procs import RunningRegistry
from tests.registry_server import credentials, fast_settings, push_layout, unique_repo
from tests.tui.conftest import clock, settle

SIZE = (120, 36)


def main_screen(app: CachetuiApp) -> MainScreen:
    screen = app.screen_stack[1]
    assert isinstance(screen, MainScreen)
    return screen


def parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


async def fill(registry: RunningRegistry, *repositories: str) -> None:
    settings = fast_settings(credentials=credentials("alice", "alice-secret"))
    async with RegistrySession(settings) as session:
        for repository in repositories:
            ref = parse_reference(f"{registry.host}/{repository}", default_tag=False)
            await push_layout(session.repository(ref),
                              fixture_dir("buildkit-registry", "app-buildcache-min"),
                              "cache", "buildcache-min")


async def test_host_source_with_cli_credentials_lists_repositories_and_their_caches(
        registry_basic: RunningRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = unique_repo("tui-host"), unique_repo("tui-host")
    await fill(registry_basic, first, second)
    host = registry_basic.host
    monkeypatch.setattr(sys, "stdin", io.StringIO("alice-secret\n"))
    args = parse(["open", "--username", "alice", "--password-stdin", "--concurrency", "2", host])
    settings = registry_settings(args, Config())
    app = make_app(args.sources, config=Config(), registry_settings=settings, clock=clock,
                   use_config_sources=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        failed = [s.error for s in main.sources.values() if s.status is SourceStatus.FAILED]
        assert failed == []
        tree = main.query_one(SourcesTree)
        [registries, _directories] = tree.root.children
        [host_node] = registries.children
        assert str(host_node.label).startswith(host)
        repositories = {str(child.label).split("  ")[0] for child in host_node.children}
        assert {first, second} <= repositories
        for repository in (first, second):
            [row] = [r for r in main.rows.values() if r.source_id == f"{host}/{repository}"]
            assert row.entry.tag == "cache" and row.entry.analysis is not None
            assert row.entry.analysis.document.is_cache
        # Selecting one repository in the tree shows only its caches.
        node = next(c for c in host_node.children if str(c.label).startswith(first))
        tree.move_cursor(node)
        await settle(pilot)
        table_sources = {row.source_id for row in main.visible_rows()}
        assert table_sources == {f"{host}/{first}"}


async def test_without_the_credentials_the_registry_fails_in_place(
        registry_basic: RunningRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", "/nonexistent-docker-config")
    app = make_app([registry_basic.host], config=Config(), clock=clock, use_config_sources=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        [state] = main.sources.values()
        assert state.status is SourceStatus.FAILED and state.error
        assert "401" in state.error or "auth" in state.error.lower()
        [row] = main.rows.values()
        assert row.entry.tag == "(source)"


async def test_open_command_hands_the_registry_flags_to_the_app(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHETUI_CONFIG", "/nonexistent/config.toml")
    seen: dict[str, object] = {}

    class FakeApp:
        async def run_async(self) -> None:
            seen["ran"] = True

    def fake_make_app(sources: list[str], **kwargs: object) -> FakeApp:
        seen.update(kwargs, sources=sources)
        return FakeApp()

    monkeypatch.setattr("cachetui.tui.app.make_app", fake_make_app)
    # pytest has no terminal; the UI (faked here) would refuse to start without one.
    monkeypatch.setattr("cachetui.cli.open_cmd.require_terminal", lambda instead: None)
    install()
    args = parse(["open", "--insecure", "registry.example:5000", "--concurrency", "3",
                  "--ca-file", "/etc/ca.pem", "registry.example:5000/app"])
    assert await open_cmd.run(args) == 0
    settings = seen["registry_settings"]
    assert seen["ran"] and seen["sources"] == ["registry.example:5000/app"]
    assert settings.default_concurrency == 3  # type: ignore[attr-defined]
    assert "registry.example:5000" in settings.insecure_hosts  # type: ignore[attr-defined]
    assert settings.default_ca_file == "/etc/ca.pem"  # type: ignore[attr-defined]

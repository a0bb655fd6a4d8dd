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
from cachetui.tui.jobs import JobState
from cachetui.tui.model import SourceStatus
from cachetui.tui.screens.main import MainScreen
from cachetui.tui.widgets.cache_table import CacheTable
from cachetui.tui.widgets.sources_tree import SourcesTree
from tests.fixtures import fixture_dir
from tests.registry_procs import RunningRegistry
from tests.registry_server import credentials, fast_settings, push_layout, unique_repo
from tests.tui.conftest import clock, finish_jobs, settle

SIZE = (120, 36)
BOTH_SIZES = [(80, 24), (140, 40)]


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


async def push_plain(registry: RunningRegistry, repository: str) -> None:
    """One cache into ``repository`` of the registry without auth (as a build elsewhere would)."""
    async with RegistrySession(fast_settings()) as session:
        ref = parse_reference(f"{registry.host}/{repository}", default_tag=False)
        await push_layout(session.repository(ref),
                          fixture_dir("buildkit-registry", "app-buildcache-min"),
                          "cache", "buildcache-min")


def host_children(main: MainScreen, host: str) -> list[str]:
    """The repositories under the one registry node (there must be exactly one)."""
    tree = main.query_one(SourcesTree)
    registries = tree.root.children[0]
    nodes = [node for node in registries.children if str(node.label).startswith(host)]
    assert len(nodes) == 1, [str(node.label) for node in registries.children]
    assert len(registries.children) == 1, [str(node.label) for node in registries.children]
    return [str(child.label).split("  ")[0] for child in nodes[0].children]


@pytest.mark.parametrize("size", BOTH_SIZES)
async def test_ctrl_r_reads_the_catalog_again_and_a_new_repository_joins_its_registry(
        registry: RunningRegistry, size: tuple[int, int]) -> None:
    """Issue 14 found 4: a repository created after the registry was opened shows on ctrl+r."""
    first, later = unique_repo("tui-refresh"), unique_repo("tui-refresh-later")
    await push_plain(registry, first)
    app = make_app([registry.host], config=Config(), clock=clock, use_config_sources=False)
    async with app.run_test(size=size, notifications=True) as pilot:
        await settle(pilot)
        main = main_screen(app)
        assert first in host_children(main, registry.host)
        assert later not in host_children(main, registry.host)
        await push_plain(registry, later)
        await pilot.press("ctrl+r")
        await settle(pilot)
        await settle(pilot)
        assert later in host_children(main, registry.host)
        [row] = [r for r in main.rows.values() if r.source_id == f"{registry.host}/{later}"]
        assert row.entry.tag == "cache" and row.entry.analysis is not None
        # The repositories that were there are still listed once, with their caches.
        assert host_children(main, registry.host).count(first) == 1
        assert [r.entry.tag for r in main.rows.values()
                if r.source_id == f"{registry.host}/{first}"] == ["cache"]


@pytest.mark.parametrize("size", BOTH_SIZES)
async def test_a_copy_into_a_new_repository_of_an_open_registry_nests_under_it(
        registry: RunningRegistry, size: tuple[int, int]) -> None:
    """Issue 14 found 4: the new repository is a child of the open registry, not a second
    top-level registry node."""
    from tests.tui.test_copy_tui import copy_dialog, move_to, type_text

    first, new = unique_repo("tui-nest"), unique_repo("tui-nest-new")
    await push_plain(registry, first)
    directory = fixture_dir("buildkit", "local-min")
    app = make_app([str(directory), registry.host], config=Config(), clock=clock,
                   use_config_sources=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        main = main_screen(app)
        move_to(main, "local-min", "latest")
        digest = main.query_one(CacheTable).current().entry.digest  # type: ignore[union-attr]
        await pilot.press("c")
        await settle(pilot)
        copy_dialog(app)
        await type_text(pilot, f"{registry.host}/{new}:copied")
        await pilot.press("enter")
        await finish_jobs(pilot)
        [job] = app.jobs.values()
        assert job.state is JobState.DONE, job.error
        await settle(pilot)
        await settle(pilot)
        assert new in host_children(main, registry.host)
        assert [(r.entry.tag, r.entry.digest) for r in main.rows.values()
                if r.source_id == f"{registry.host}/{new}"] == [("copied", digest)]

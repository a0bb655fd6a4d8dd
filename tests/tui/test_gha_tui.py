"""The TUI on a GitHub repository's Actions cache (the emulator): the source says how close the
repository is to its cache limit, from the usage endpoint."""

from __future__ import annotations

import pytest

from cachetui.config import Config
from cachetui.tui.app import make_app
from cachetui.tui.model import SourceState, SourceStatus
from cachetui.tui.widgets.cache_table import CacheTable
from cachetui.tui.widgets.sources_tree import SourcesTree
from tests.gha_emulator.emulator import GitHubEmulator
from tests.gha_emulator.fixture import REPOSITORY, load_dump
from tests.test_gha_cli import _runtime, rest_env  # noqa: F401  (the fixture)
from tests.tui.conftest import clock, settle
from tests.tui.test_objstore_tui import SIZE, form_label, main_screen


async def test_a_gha_source_shows_its_usage_against_the_repository_limit(
        rest_env: GitHubEmulator) -> None:  # noqa: F811
    load_dump(rest_env, "v2-generations")
    app = make_app([f"gha://{REPOSITORY}"], config=Config(), clock=clock,
                   use_config_sources=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_screen(app)
        [state] = main.sources.values()
        assert state.status is SourceStatus.DONE, state.error
        # The emulator's usage endpoint sums the live entries: 798.9 KiB, as `ls` reports.
        assert state.quota is not None and state.quota[1] == 10 * 1024**3
        assert "798.9 KiB of 10.0 GiB (<0.1%)" in state.progress_text
        tree = main.query_one(SourcesTree)
        [group] = [node for node in tree.root.children
                   if str(node.label).startswith("Cloud caches")]
        labels = [str(node.label) for node in group.children]
        assert any("798.9 KiB of 10.0 GiB" in label for label in labels), labels
        # Not filed under Directories (it is no directory): that group stays empty.
        [directories] = [node for node in tree.root.children
                         if str(node.label).startswith("Directories")]
        assert not directories.children


@pytest.mark.parametrize("size", [(80, 24), (140, 40)])
async def test_a_gha_cache_is_labelled_by_its_own_form(
        rest_env: GitHubEmulator, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        size: tuple[int, int]) -> None:
    """gha keeps BuildKit's cache config in an index entry: the Form column says ``gha-index``
    (as ``ls --json`` does), not the OCI form cachetui reads it into."""
    load_dump(rest_env, "v2-max")
    _runtime(monkeypatch, rest_env)
    app = make_app([f"gha://{REPOSITORY}"], config=Config(), clock=clock,
                   use_config_sources=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        main = main_screen(app)
        [row] = main.rows.values()
        assert row.entry.analysis is not None, row.entry.error
        table = main.query_one(CacheTable)
        assert form_label(table, row) == "gha-index"


@pytest.mark.parametrize(("used", "expected"), [
    (int(4.2 * 1024**3), "4.2 GiB of 10.0 GiB (42%)"),
    (int(0.5 * 1024**3), "512.0 MiB of 10.0 GiB (5.0%)"),
])
def test_the_quota_text_reads_used_of_limit_with_a_share(used: int, expected: str) -> None:
    state = SourceState("gha://o/r", "gha://o/r", "gha", status=SourceStatus.DONE, total=3,
                        quota=(used, 10 * 1024**3))
    assert state.progress_text == f"3 tags, {expected}"


@pytest.mark.parametrize(("text", "kind"), [
    ("s3://bucket/prefix", "s3"), ("type=azblob,account_url=http://x,name=a", "azblob"),
    ("gha://owner/repo", "gha"), ("./cache", "directory"), ("ghcr.io", "registry"),
])
def test_a_source_that_fails_to_open_is_filed_by_the_kind_its_text_names(
        text: str, kind: str) -> None:
    from cachetui.tui.scanning import _guessed_kind

    assert _guessed_kind(text) == kind

"""``gh auth token``, the last place a GitHub token is looked for, is a subprocess (up to 10 s).
The TUI's opening thread runs it ahead (``openers.prepare``) and the opening on the event loop
takes that answer once; a later opening asks ``gh`` again, so a login made meanwhile is seen."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from cachetui.config import Config
from cachetui.locations import parse_location
from cachetui.locations.openers import prepare
from cachetui.locations.workspace import Workspace
from cachetui.store.gha import credentials
from cachetui.store.gha.credentials import DEFAULT_API_URL, github_token, look_up_gh_ahead
from cachetui.store.gha.store import GhaStore

FAKE_GH = """#!/bin/sh
# counts its runs; prints a token named after the run
echo run >> "{calls}"
echo "gho_fake$(wc -l < "{calls}" | tr -d ' ')"
"""


@pytest.fixture
def gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``gh`` on PATH; the returned file gets a line per run."""
    calls = tmp_path / "calls"
    calls.touch()
    script = tmp_path / "bin" / "gh"
    script.parent.mkdir()
    script.write_text(FAKE_GH.format(calls=calls), encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(credentials, "_ahead", {})
    return calls


def runs(calls: Path) -> int:
    return len(calls.read_text(encoding="utf-8").splitlines())


def token(api_url: str = DEFAULT_API_URL) -> str:
    found = github_token(api_url=api_url).token
    assert found is not None
    return found.reveal()


def test_a_lookup_made_ahead_is_taken_once(gh: Path) -> None:
    assert token() == "gho_fake1" and runs(gh) == 1
    look_up_gh_ahead(DEFAULT_API_URL)
    assert runs(gh) == 2
    assert token() == "gho_fake2" and runs(gh) == 2  # taken: gh did not run again
    assert token() == "gho_fake3" and runs(gh) == 3  # once only: later lookups ask gh


def test_a_stale_or_other_lookup_is_not_taken(gh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    look_up_gh_ahead("https://ghe.example/api/v3")
    assert token() == "gho_fake2" and runs(gh) == 2  # another API's lookup is not this one's
    monkeypatch.setattr(credentials, "_AHEAD_SECONDS", 0.0)
    look_up_gh_ahead(DEFAULT_API_URL)
    assert token() == "gho_fake4" and runs(gh) == 4


def test_preparing_a_gha_source_runs_gh_and_opening_it_then_does_not(gh: Path) -> None:
    workspace = Workspace(Config())
    location = parse_location("gha://octo/app")
    prepare(workspace, location)  # what the TUI runs in a thread before opening
    assert runs(gh) == 1
    store = workspace.open(location)
    assert isinstance(store, GhaStore)
    assert runs(gh) == 1
    asyncio.run(store.aclose())
    asyncio.run(workspace.aclose())


def test_no_gh_lookup_ahead_when_a_token_is_in_the_environment(
        gh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_from_env")
    prepare(Workspace(Config()), parse_location("gha://octo/app"))
    assert runs(gh) == 0

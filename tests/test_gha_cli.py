"""``ls``, ``prune`` and ``inspect`` on gha:// sources, with the environment the runner sets:
one clear line for missing scopes and rate limits, and no token ever in the output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cachetui.cli import main
from cachetui.store.layout import LayoutStore
from tests.gha_emulator.emulator import GitHubEmulator
from tests.gha_emulator.fixture import (
    MAIN,
    READONLY_TOKEN,
    REPOSITORY,
    REST_TOKEN,
    load_dump,
    runtime_token,
)

RUNTIME_VARS = ("ACTIONS_RUNTIME_TOKEN", "ACTIONS_RESULTS_URL", "ACTIONS_CACHE_URL",
                "ACTIONS_CACHE_SERVICE_V2", "GH_TOKEN", "GITHUB_REPOSITORY")


@pytest.fixture
def rest_env(gha_emulator: GitHubEmulator, monkeypatch: pytest.MonkeyPatch) -> GitHubEmulator:
    for name in RUNTIME_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_API_URL", gha_emulator.url)
    monkeypatch.setenv("GITHUB_TOKEN", REST_TOKEN)
    return gha_emulator


def _runtime(monkeypatch: pytest.MonkeyPatch, emulator: GitHubEmulator) -> str:
    token = runtime_token()
    monkeypatch.setenv("ACTIONS_RUNTIME_TOKEN", token)
    monkeypatch.setenv("ACTIONS_RESULTS_URL", emulator.url + "/")
    monkeypatch.setenv("ACTIONS_CACHE_SERVICE_V2", "true")
    return token


def test_ls_over_rest_shows_generations_refs_and_usage(
        rest_env: GitHubEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    load_dump(rest_env, "v2-generations")
    code = main(["ls", f"gha://{REPOSITORY}"])
    out = capsys.readouterr()
    assert code == 0, out.err
    lines = out.out.splitlines()
    assert lines[0].split()[:4] == ["CACHE", "CURRENT", "SUPERSEDED", "WASTED"]
    assert lines[1].split()[:3] == [f"gha://{REPOSITORY}:app@{MAIN}", "#3", "2"]
    assert "9 entries, 798.9 KiB of 10.0 GiB" in out.out
    assert "2 superseded generations (5.9 KiB)" in out.out
    assert "runtime token" in out.out
    assert REST_TOKEN not in out.out + out.err


def test_ls_json_with_runtime_token_has_analysis_and_gha_facts(
        rest_env: GitHubEmulator, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    load_dump(rest_env, "v2-max")
    token = _runtime(monkeypatch, rest_env)
    code = main(["ls", "--json", f"type=gha,repository={REPOSITORY}"])
    out = capsys.readouterr()
    assert code == 0, out.err
    rows = json.loads(out.out)
    assert len(rows) == 1
    assert rows[0]["tag"] == f"buildkit@{MAIN}"
    assert rows[0]["layer_count"] == 9
    assert rows[0]["min_size_bytes"] == 404474
    assert rows[0]["format"] == "gha-index"  # its own form, not the OCI form it is read into
    assert rows[0]["gha"]["current"]["key"] == "index-buildkit-1-f921bd05#1"
    assert rows[0]["gha"]["evicted_blobs"] == []
    assert token not in out.out + out.err and REST_TOKEN not in out.out + out.err


def test_prune_superseded_dry_run_then_yes(rest_env: GitHubEmulator,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    load_dump(rest_env, "v2-generations")
    assert main(["prune", "--superseded", f"gha://{REPOSITORY}"]) == 0
    dry = capsys.readouterr().out
    assert "index-app-1-f921bd05#1" in dry and "index-app-1-f921bd05#2" in dry
    assert "index-app-1-f921bd05#3" not in dry
    assert "Dry run" in dry
    assert len(rest_env.repository(REPOSITORY).committed()) == 9
    assert main(["prune", "--superseded", "--yes", f"gha://{REPOSITORY}"]) == 0
    done = capsys.readouterr().out
    assert "deleted index-app-1-f921bd05#1" in done
    keys = sorted(e.key for e in rest_env.repository(REPOSITORY).committed())
    assert [k for k in keys if k.startswith("index-")] == ["index-app-1-f921bd05#3"]
    assert len(keys) == 7


def test_missing_delete_scope_is_one_line_and_no_token(
        rest_env: GitHubEmulator, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    load_dump(rest_env, "v2-generations")
    monkeypatch.setenv("GITHUB_TOKEN", READONLY_TOKEN)
    code = main(["prune", "--superseded", "--yes", f"gha://{REPOSITORY}"])
    out = capsys.readouterr()
    assert code == 1
    assert "lacks the repo scope" in out.out
    assert "Traceback" not in out.out + out.err
    assert READONLY_TOKEN not in out.out + out.err


def test_rate_limit_is_one_line(rest_env: GitHubEmulator, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    rest_env.add_rest_token("ghp_spent", ("repo",), limit=0)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_spent")
    code = main(["ls", f"gha://{REPOSITORY}"])
    out = capsys.readouterr()
    assert code == 1
    errors = out.err.strip().splitlines()
    assert len(errors) == 1 and "rate limit" in errors[0] and "resets at" in errors[0]
    assert "ghp_spent" not in out.out + out.err


def test_bad_gha_locations_are_one_line(rest_env: GitHubEmulator,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    for text in ("gha://not-a-repo", "type=gha,version=3,repository=a/b",
                 "type=gha,bogus=1,repository=a/b"):
        assert main(["ls", text]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("cachetui: error:"), err


def test_inspect_names_evicted_blobs_per_index(rest_env: GitHubEmulator,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    load_dump(rest_env, "v2-max")
    repo = rest_env.repository(REPOSITORY)
    gone = "f3743353a56e873873f1d560a524fe4c7f7e255faa9118548b02ed435f826fe1"
    rest_env.delete_entry(repo, next(e for e in repo.entries if e.key.endswith(gone)))
    _runtime(monkeypatch, rest_env)
    code = main(["inspect", f"gha://{REPOSITORY}"])
    out = capsys.readouterr()
    assert "min estimate  3 layers" in out.out
    assert f"buildkit@{MAIN}: 1 evicted blob(s)" in out.out
    assert f"{gone[:12]} (final)" in out.out
    assert code in (0, 3)
    assert main(["inspect", "--json", f"gha://{REPOSITORY}"]) in (0, 3)
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["gha"]["evicted_blobs"] == [f"sha256:{gone}"]


def test_cli_copy_from_gha_into_a_directory(rest_env: GitHubEmulator, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    load_dump(rest_env, "v2-min")
    _runtime(monkeypatch, rest_env)
    code = main(["copy", f"gha://{REPOSITORY}?scope=buildkit&ref={MAIN}", f"{tmp_path}/d:c"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert LayoutStore(tmp_path / "d").get_manifest_sync("c").digest


async def test_the_tui_opens_a_gha_source_as_a_store(rest_env: GitHubEmulator) -> None:
    from cachetui.locations import Workspace, parse_location

    load_dump(rest_env, "v2-generations")
    workspace = Workspace()  # the TUI opens every source through its workspace
    [target] = (await workspace.expand(parse_location(f"gha://{REPOSITORY}"))).targets
    try:
        assert target.store.kind == "gha"
        assert await target.store.list_tags() == [f"app@{MAIN}"]
    finally:
        await workspace.aclose()


def test_names_from_github_are_printed_without_control_characters(
        rest_env: GitHubEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    evil = "refs/heads/\x1b[2J\x07evil"
    rest_env.add_entry(REPOSITORY, "index-app-1-0badc0de#1", "v", evil, b"{}")
    rest_env.add_entry(REPOSITORY, "index-app-1-0badc0de#2", "v", evil, b"{}")
    assert main(["ls", f"gha://{REPOSITORY}"]) == 0
    assert main(["prune", "--superseded", f"gha://{REPOSITORY}"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "refs/heads/\\x1b[2J\\x07evil" in out

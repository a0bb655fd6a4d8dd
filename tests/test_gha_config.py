"""The GitHub REST base from the config file (``[github] api_url``): used when GITHUB_API_URL is
unset, and the environment wins when both are set."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cachetui.cli import main
from cachetui.config import Config, load_config, parse_config
from cachetui.errors import InvalidInput
from cachetui.locations import parse_location
from cachetui.locations.workspace import Workspace
from cachetui.store.gha.store import GhaStore
from tests.gha_emulator.emulator import GitHubEmulator
from tests.gha_emulator.fixture import REPOSITORY, load_dump
from tests.test_gha_cli import rest_env  # noqa: F401  (the fixture)


def _config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(f'[github]\napi_url = "{url}"\n', encoding="utf-8")
    monkeypatch.setenv("CACHETUI_CONFIG", str(path))
    return load_config()


def test_the_config_api_url_is_used_when_the_environment_has_none(
        rest_env: GitHubEmulator, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    load_dump(rest_env, "v2-generations")
    monkeypatch.delenv("GITHUB_API_URL")
    config = _config_file(tmp_path, monkeypatch, rest_env.url + "/")
    store = Workspace(config).open(parse_location(f"gha://{REPOSITORY}"))
    assert isinstance(store, GhaStore)
    # Checked before any request: without the setting this would be api.github.com.
    assert store.rest.api_url == rest_env.url
    inventory = asyncio.run(store.inventory())
    assert inventory.usage_bytes is not None and len(inventory.entries) == 9


def test_the_environment_wins_over_the_config_file(
        rest_env: GitHubEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    load_dump(rest_env, "v2-generations")
    # Port 9 (discard) on loopback: were the config used, ls would fail to connect.
    _config_file(tmp_path, monkeypatch, "http://127.0.0.1:9/api/v3")
    code = main(["ls", f"gha://{REPOSITORY}"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "9 entries, 798.9 KiB of 10.0 GiB" in out.out


@pytest.mark.parametrize("value", ['"api.github.com"', '"ftp://x"', "3"])
def test_a_bad_api_url_is_one_line_naming_the_key(value: str) -> None:
    with pytest.raises(InvalidInput, match=r"github\.api_url"):
        parse_config(f"[github]\napi_url = {value}\n")

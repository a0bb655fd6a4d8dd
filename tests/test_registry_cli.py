"""``cachetui ls`` and ``inspect`` against a real registry, through the real CLI entry point."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from cachetui.cli import main
from cachetui.store.registry import RegistrySession
from tests.fixtures import fixture_dir
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, push_layout, unique_repo

TAGS = {"buildcache-max": "app-buildcache-max", "inline": "app-inline", "latest": "app-latest",
        "buildcache-max-oci-index": "app-buildcache-max-oci-index"}


@pytest.fixture(scope="module")
def filled(registry: RunningRegistry) -> str:
    """A repository holding four tags; returns ``host/repo``."""
    repo = unique_repo("cli")

    async def fill() -> None:
        async with RegistrySession(fast_settings()) as session:
            store = session.store(registry.host, repo)
            for tag, name in TAGS.items():
                await push_layout(store, fixture_dir("buildkit-registry", name), tag)

    asyncio.run(fill())
    return f"{registry.host}/{repo}"


def test_ls_repository_json(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", filled, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(row["tag"] for row in rows) == sorted(TAGS)
    formats = {row["tag"]: row["format"] for row in rows}
    assert formats == {"buildcache-max": "image-manifest", "inline": "inline", "latest": "image",
                       "buildcache-max-oci-index": "index"}
    assert all(row["source"] == filled for row in rows)


@pytest.mark.parametrize("ref", ["256.1.1.1:5000/cache", "256.1.1.1:5000"])
def test_an_invalid_registry_address_is_one_line_error(ref: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """An address httpx cannot parse (an IPv4 octet over 255) is the source's error, not a
    traceback from the URL parser (it was one, with and before httpx loaded on first use)."""
    assert main(["ls", ref]) == 1
    err = capsys.readouterr().err
    assert "256.1.1.1:5000: not a valid registry address (Invalid IPv4 address" in err
    assert "Traceback" not in err


def test_ls_human_table(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", filled]) == 0
    out = capsys.readouterr().out
    assert f"{filled}:buildcache-max" in out
    assert "image-manifest" in out


def test_ls_whole_registry(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    host = filled.split("/", 1)[0]
    assert main(["ls", host, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["tag"] for row in rows if row["source"] == filled} == set(TAGS)


def test_inspect_tag_and_spec(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", f"{filled}:buildcache-max", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1
    assert rows[0]["digest"].startswith("sha256:93134538")
    assert main(["inspect", f"type=registry,ref={filled}:inline", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["format"] for row in rows] == ["inline"]


def test_missing_tag_is_one_line_error(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", f"{filled}:nope", "--json"]) != 0
    err = capsys.readouterr().err
    assert "manifest unknown" in err
    assert "Traceback" not in err


def test_unreachable_registry_is_one_line_error(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from cachetui.store.registry.settings import RegistrySettings
    from tests.registry_procs import free_port

    original = RegistrySettings.from_config

    def quick(*args: Any, **kwargs: Any) -> RegistrySettings:
        kwargs["retry"] = fast_settings().retry
        return original(*args, **kwargs)

    monkeypatch.setattr(RegistrySettings, "from_config", quick)

    assert main(["ls", f"127.0.0.1:{free_port()}/nothing", "--json"]) != 0
    err = capsys.readouterr().err
    assert "cannot connect" in err
    assert "Traceback" not in err

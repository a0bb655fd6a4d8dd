"""``read_only = true`` in the config (global, per source, per registry) is obeyed by the CLI:
the stores the workspace opens refuse every write, so prune, copy, re-export and gc change nothing
(issue 10 item 4; before, only the TUI honoured it and ``prune --yes`` deleted tags)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
from pathlib import Path

import pytest

from cachetui.cli import main
from cachetui.oci.reference import parse_reference
from cachetui.store.layout import LayoutStore
from cachetui.store.registry import RegistrySession
from tests.fixtures import fixture_dir
from tests.prune_support import copy_fixture
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, push_layout, unique_repo


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its bytes: a write of any kind changes it."""
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


def use_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    monkeypatch.setenv("CACHETUI_CONFIG", str(config))


@pytest.fixture
def frozen(tmp_path: Path) -> Path:
    return copy_fixture("local-max-twice", tmp_path / "frozen")


@pytest.mark.parametrize("scope", ["global", "source"])
def test_prune_yes_deletes_nothing_from_a_read_only_directory(
        frozen: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], scope: str) -> None:
    use_config(tmp_path, monkeypatch, "read_only = true\n" if scope == "global" else
               f'[[sources]]\nsource = "{frozen}"\nread_only = true\n')
    before = snapshot(frozen)
    code, out = run_cli("prune", str(frozen), "--match", "*", "--grace", "0s", "--yes")
    assert snapshot(frozen) == before
    assert "read-only" in out
    assert code != 0


@pytest.mark.parametrize("scope", ["global", "source"])
def test_gc_yes_deletes_nothing_from_a_read_only_directory(
        frozen: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], scope: str) -> None:
    use_config(tmp_path, monkeypatch, "read_only = true\n" if scope == "global" else
               f'[[sources]]\nsource = "{frozen}"\nread_only = true\n')
    before = snapshot(frozen)
    code, _ = run_cli("gc", str(frozen), "--grace", "0s", "--yes")
    assert snapshot(frozen) == before
    assert code != 0 and "read" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["copy", "reexport"])
def test_copy_and_reexport_refuse_a_read_only_destination(
        frozen: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], command: str) -> None:
    use_config(tmp_path, monkeypatch, f'[[sources]]\nsource = "{frozen}"\nread_only = true\n')
    source = fixture_dir("buildkit", "local-min")
    before = snapshot(frozen)
    code, _ = run_cli(command, f"{source}:latest", f"{frozen}:copied")
    assert snapshot(frozen) == before
    assert code == 1 and "read_only = true for source" in capsys.readouterr().err
    # Globally read-only: a new directory is not even created.
    use_config(tmp_path, monkeypatch, "read_only = true\n")
    code, _ = run_cli(command, f"{source}:latest", str(tmp_path / "new"))
    assert code == 1 and not (tmp_path / "new").exists()


@pytest.mark.registry
def test_a_read_only_registry_is_neither_pushed_to_nor_pruned(
        registry: RunningRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    repo = unique_repo("frozen")

    async def fill() -> None:
        async with RegistrySession(fast_settings()) as session:
            store = session.repository(parse_reference(f"{registry.host}/{repo}",
                                                       default_tag=False))
            await push_layout(store, fixture_dir("buildkit-registry", "app-buildcache-min"),
                              "cache", "buildcache-min")

    async def tags() -> list[str]:
        async with RegistrySession(fast_settings()) as session:
            return await session.repository(parse_reference(f"{registry.host}/{repo}",
                                                            default_tag=False)).list_tags()

    asyncio.run(fill())
    use_config(tmp_path, monkeypatch,
               f'[registries."{registry.host}"]\nread_only = true\n')
    code, out = run_cli("prune", f"{registry.host}/{repo}", "--match", "*", "--yes")
    assert code != 0 and "read-only" in out
    assert asyncio.run(tags()) == ["cache"]
    source = fixture_dir("buildkit", "local-min")
    code, _ = run_cli("copy", f"{source}:latest", f"{registry.host}/{repo}:pushed")
    assert code == 1 and "read_only = true for [registries" in capsys.readouterr().err
    assert asyncio.run(tags()) == ["cache"]
    # Reading a read-only registry still works.
    assert run_cli("ls", f"{registry.host}/{repo}")[0] == 0
    assert LayoutStore(source).read_only is False

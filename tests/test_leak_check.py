"""The leak check (issue 10): every command, with and without ``--json``, in error cases, and the
TUI's error display, run with a recognisable secret in the docker config against a registry whose
error bodies quote the request's ``Authorization`` header and the password. Neither the secret nor
any base64 form of it may appear in anything cachetui prints.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cachetui import redact
from cachetui.cli import main
from cachetui.config import Config
from cachetui.store.registry.settings import RegistrySettings
from cachetui.tui.app import make_app
from cachetui.tui.model import SourceStatus
from cachetui.tui.screens.main import MainScreen
from tests.fixtures import fixture_dir
from tests.hostile_registry import TAG, HostileRegistry, docker_config, secret_forms
from tests.registry_server import fast_settings
from tests.tui.conftest import clock, settle


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileRegistry]:
    server = HostileRegistry().start()
    yield server
    server.stop()


@pytest.fixture
def secret_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  hostile: HostileRegistry) -> Path:
    """``DOCKER_CONFIG`` holds the secret for the hostile host; redaction starts from nothing."""
    redact.forget_all()
    directory = docker_config(tmp_path / "docker", hostile.host)
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    original = RegistrySettings.from_config

    def quick(*args: Any, **kwargs: Any) -> RegistrySettings:
        kwargs["retry"] = fast_settings().retry
        return original(*args, **kwargs)

    monkeypatch.setattr(RegistrySettings, "from_config", quick)
    return directory


def assert_clean(text: str) -> None:
    for form in secret_forms():
        assert form not in text, f"{form!r} leaked in {text!r}"


def commands(hostile: HostileRegistry, tmp: Path) -> list[list[str]]:
    source = f"{hostile.host}/echo/app"
    local = tmp / "local"
    shutil.copytree(fixture_dir("buildkit-registry", "app-buildcache-max"), local)
    return [
        ["ls", source], ["ls", source, "--json"],
        ["inspect", f"{source}:{TAG}"], ["inspect", f"{source}:{TAG}", "--json"],
        ["inspect", f"{source}:{TAG}", "--layers", "--json"],
        ["copy", f"{source}:{TAG}", f"{tmp / 'out'}:t"],
        ["copy", f"{source}:{TAG}", f"{tmp / 'out'}:t", "--json"],
        ["copy", f"{local}:buildcache-max", f"{source}:t", "--json"],
        ["copy", f"{local}:buildcache-max", f"{source}:t"],
        ["prune", source, "--match", "*"], ["prune", source, "--match", "*", "--json"],
        ["prune", source, "--match", "*", "--yes", "--json"],
        ["reexport", f"{source}:{TAG}", f"{tmp / 're'}:t"],
        ["reexport", f"{source}:{TAG}", f"{tmp / 're'}:t", "--json"],
        ["gc", str(local), "--dry-run", "--json"],
    ]


def test_every_command_keeps_the_secret(hostile: HostileRegistry, secret_config: Path,
                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    echoed = 0
    argvs = commands(hostile, tmp_path)
    for argv in argvs:
        code = main(argv)
        out, err = capsys.readouterr()
        assert_clean(out + err)
        assert "Traceback" not in err, (argv, err)
        if "internal error" in out + err:  # the registry's echo reached the output, redacted
            assert "[redacted]" in out + err
            echoed += 1
        if "gc" not in argv:
            assert code != 0, (argv, out, err)
    assert echoed >= len(argvs) - 3, "the echoing error bodies were printed by most commands"


async def test_tui_error_display_keeps_the_secret(hostile: HostileRegistry,
                                                  secret_config: Path) -> None:
    source = f"{hostile.host}/echo/app"
    app = make_app([source], config=Config(), registry_settings=fast_settings(), clock=clock,
                   use_config_sources=False)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await settle(pilot)
        screen = app.screen_stack[1]
        assert isinstance(screen, MainScreen)
        failed = [s.error or "" for s in screen.sources.values()
                  if s.status is SourceStatus.FAILED]
        assert failed and "internal error" in failed[0] and "[redacted]" in failed[0]
        shown = app.export_screenshot()
        notices = " ".join(str(n.message) for n in app._notifications)
    for text in (*failed, shown, notices):
        assert_clean(text)

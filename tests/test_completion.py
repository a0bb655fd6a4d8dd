"""``cachetui completion bash|zsh|fish`` (issue 14 add 4): generated from the parser, and the
bash script completes commands, options and directories when bash runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cachetui.cli import main


def script(shell: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["completion", shell]) == 0
    return capsys.readouterr().out


def complete(bash_script: Path, cwd: Path, *words: str) -> list[str]:
    code = (f'source "{bash_script}"; COMP_WORDS=({" ".join(repr(w) for w in words)}); '
            f'COMP_CWORD={len(words) - 1}; _cachetui; printf "%s\\n" "${{COMPREPLY[@]}}"')
    done = subprocess.run(["bash", "-c", code], capture_output=True, text=True, cwd=cwd,
                          check=True)
    return done.stdout.split()


def test_bash_completes_commands_options_and_directories(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cachetui.bash"
    path.write_text(script("bash", capsys))
    (tmp_path / "ci-cache").mkdir()
    assert "prune" in complete(path, tmp_path, "cachetui", "pr")
    assert complete(path, tmp_path, "cachetui", "prune", "--old") == ["--older-than"]
    assert "--no-clobber" in complete(path, tmp_path, "cachetui", "copy", "--no")
    assert complete(path, tmp_path, "cachetui", "ls", "ci-") == ["ci-cache"]
    assert "ci-cache" in complete(path, tmp_path, "cachetui", "ci")


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_name_every_command(shell: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    text = script(shell, capsys)
    for command in ("ls", "inspect", "diff", "prune", "gc", "copy", "reexport", "demo"):
        assert command in text
    assert "older-than" in text


def test_bad_shell_is_a_usage_error() -> None:
    assert main(["completion", "tcsh"]) == 2


def test_the_script_is_valid_bash(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "cachetui", "completion", "bash"],
                         capture_output=True, text=True, check=True).stdout
    subprocess.run(["bash", "-n"], input=out, text=True, check=True)

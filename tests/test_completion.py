"""``cachetui completion bash|zsh|fish`` (issue 14 add 4): generated from the parser, and the
bash script completes commands, options and directories when bash runs it."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cachetui.cli import main
from cachetui.store.layout import LayoutStore
from tests.fixtures import fixture_dir


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


def complete_line(bash_script: Path, cwd: Path, line: str, env: dict[str, str]) -> list[str]:
    """Complete at the end of ``line`` as bash does: words split at spaces and at ':' (its
    COMP_WORDBREAKS), COMP_LINE and COMP_POINT set; ``cachetui`` is the one on PATH."""
    words: list[str] = []
    for part in line.split(" "):
        pieces = part.split(":")
        for index, piece in enumerate(pieces):
            if index:
                words.append(":")
            if piece or index == len(pieces) - 1:
                words.append(piece)
    quoted = " ".join(shlex.quote(word) for word in words)
    code = (f'source "{bash_script}"; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; '
            f'COMP_LINE={shlex.quote(line)}; COMP_POINT={len(line)}; _cachetui; '
            'printf "%s\\n" "${COMPREPLY[@]}"')
    done = subprocess.run(["bash", "-c", code], capture_output=True, text=True, cwd=cwd,
                          check=True, env=env)
    return done.stdout.split()


def completion_env(tmp_path: Path) -> dict[str, str]:
    """PATH with this virtualenv's ``cachetui`` first, and a private disk cache."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["CACHETUI_CACHE_DIR"] = str(tmp_path / "disk-cache")
    return env


def test_bash_completes_the_tags_of_a_directory_after_the_colon(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cachetui.bash"
    path.write_text(script("bash", capsys))
    shutil.copytree(fixture_dir("buildkit", "local-multi-tag"), tmp_path / "ci-cache")
    index = LayoutStore(tmp_path / "ci-cache").read_index_sync()
    tags = sorted(str(entry.annotation("org.opencontainers.image.ref.name"))
                  for entry in index.manifests)
    assert len(tags) >= 2
    env = completion_env(tmp_path)
    # bash replies with what follows the colon (the part it splits off as the current word).
    assert complete_line(path, tmp_path, "cachetui inspect ci-cache:", env) == tags
    first = tags[0]
    assert complete_line(path, tmp_path, f"cachetui inspect ci-cache:{first[:-1]}", env) == \
        [t for t in tags if t.startswith(first[:-1])]
    assert complete_line(path, tmp_path, "cachetui inspect ci-cache:zz-none", env) == []


def test_registry_tags_come_from_the_disk_cache_and_never_the_network(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cachetui.store.diskcache import DiskCache

    path = tmp_path / "cachetui.bash"
    path.write_text(script("bash", capsys))
    env = completion_env(tmp_path)
    digest = "sha256:" + "a" * 64
    # Port 9 (discard) on a documentation address: a connection attempt would hang or fail.
    DiskCache(tmp_path / "disk-cache").remember_tags(
        "192.0.2.1:9/team/app", {"main": digest, "pr-1": digest, "pr-2": digest})
    started = time.monotonic()
    assert complete_line(path, tmp_path, "cachetui ls 192.0.2.1:9/team/app:pr", env) == \
        ["pr-1", "pr-2"]
    assert time.monotonic() - started < 10
    # Never listed: nothing (no network round trip to find out).
    assert complete_line(path, tmp_path, "cachetui ls 192.0.2.1:9/team/other:", env) == []
    # The colon of a port is no tag separator.
    assert main(["__complete-tags", "192.0.2.1:9"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_ask_for_tags_after_a_colon(
        shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = script(shell, capsys)
    assert "cachetui __complete-tags" in text


def multi_tag_cache(tmp_path: Path) -> list[str]:
    """A copy of ``local-multi-tag`` at ``tmp_path/ci-cache``; its tags, sorted."""
    shutil.copytree(fixture_dir("buildkit", "local-multi-tag"), tmp_path / "ci-cache")
    index = LayoutStore(tmp_path / "ci-cache").read_index_sync()
    tags = sorted(str(entry.annotation("org.opencontainers.image.ref.name"))
                  for entry in index.manifests)
    assert len(tags) >= 2
    return tags


def test_fish_completes_only_the_tags_of_a_directory_after_the_colon(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """fish runs the generated script (``complete -C``): after ``DIR:`` it offers the tags and
    no file names (without ``-f`` it also offered ``ci-cache:cachetui.fish``)."""
    (tmp_path / "cachetui.fish").write_text(script("fish", capsys))
    tags = multi_tag_cache(tmp_path)

    def fish(line: str) -> list[str]:
        code = f"source cachetui.fish; complete -C {shlex.quote(line)}"
        done = subprocess.run(["fish", "--no-config", "-c", code], capture_output=True,
                              text=True, cwd=tmp_path, check=True, env=completion_env(tmp_path))
        return [candidate.split("\t")[0] for candidate in done.stdout.splitlines()]

    assert fish("cachetui inspect ci-cache:") == [f"ci-cache:{tag}" for tag in tags]
    assert fish(f"cachetui inspect ci-cache:{tags[0]}") == [f"ci-cache:{tags[0]}"]
    assert fish("cachetui inspect ci-c") == ["ci-cache/"]  # files before the colon
    assert "ls" in fish("cachetui l")


def test_zsh_completes_the_tags_of_a_directory_after_the_colon(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """zsh runs the generated ``_cachetui_source`` with compsys's ``compadd``/``_files`` replaced
    by functions that print what they were given (no terminal needed)."""
    (tmp_path / "_cachetui").write_text(script("zsh", capsys))
    tags = multi_tag_cache(tmp_path)

    def zsh(prefix: str) -> list[str]:
        code = ("compdef() { : }; compadd() { print -rl -- \"$@\" }; _files() { print FILES }; "
                f"source ./_cachetui; PREFIX={shlex.quote(prefix)}; _cachetui_source")
        done = subprocess.run(["zsh", "-f", "-c", code], capture_output=True, text=True,
                              cwd=tmp_path, check=True, env=completion_env(tmp_path))
        return done.stdout.splitlines()

    assert zsh("ci-cache:") == ["-Q", "-U", "--", *(f"ci-cache:{tag}" for tag in tags)]
    assert zsh("ci-cache:zz-none") == ["FILES"]  # no tag: the shell's own file completion
    assert zsh("ci-c") == ["FILES"]

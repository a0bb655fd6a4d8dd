"""The command line's edges (issue 10, items 5, 15, 16): mistyped commands, no terminal, a closed
pipe, and exit 3 that says on stderr what failed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cachetui.cli import main
from tests.fixtures import REPO_ROOT, fixture_dir
from tests.prune_support import copy_fixture


def _run(*argv: str, stdout: int | None = subprocess.PIPE,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real entry point, with no terminal: stdin from /dev/null, output to pipes."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-m", "cachetui", *argv], stdin=subprocess.DEVNULL,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, env=env,
                          timeout=timeout, check=False)


def test_a_mistyped_command_is_unknown_not_a_docker_hub_repository() -> None:
    """Before: ``lsit`` opened the UI on a Docker Hub repository called ``lsit``."""
    done = _run("lsit", str(fixture_dir("buildkit", "local-min")), timeout=30)
    assert done.returncode == 2
    assert "unknown command 'lsit'" in done.stderr and "did you mean 'ls'" in done.stderr
    assert done.stderr.count("\n") == 1


def test_a_word_shaped_like_a_source_still_opens_the_ui(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Only words that cannot be a source are refused: paths, HOST/REPO, DIR:TAG still open."""
    from cachetui.cli import plausible_source

    assert not plausible_source("lsit")
    for word in ("ghcr.io/acme/app", "localhost", "localhost:5000", "./cache", "cache:tag",
                 "type=local,src=x", str(fixture_dir("buildkit", "local-min"))):
        assert plausible_source(word), word
    monkeypatch.chdir(fixture_dir("buildkit", "local-min").parent)
    assert plausible_source("local-min")  # an existing folder, named bare
    assert main(["open", "--help"]) == 0
    capsys.readouterr()


def test_without_a_terminal_the_ui_refuses_and_names_the_cli_command(tmp_path: Path) -> None:
    """Before: the UI started with no terminal and never exited (the timeout fails the test)."""
    for argv in ([str(fixture_dir("buildkit", "local-min"))],
                 ["open", str(fixture_dir("buildkit", "local-min"))],
                 ["demo", "--dir", str(tmp_path / "demo")]):
        done = _run(*argv, timeout=30)
        assert done.returncode == 2, (argv, done.stderr)
        assert "needs a terminal" in done.stderr and "cachetui ls" in done.stderr
        assert "Traceback" not in done.stderr
        assert done.stderr.count("\n") == 1


def test_output_into_a_closed_pipe_exits_quietly() -> None:
    """``cachetui ls --json DIR | head -c 0``: the reader is gone before the output is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = _run("ls", "--json", str(fixture_dir("buildkit", "local-min")).rsplit("/", 1)[0],
                    stdout=write_end)
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.stderr == ""
    assert done.returncode == 141


def test_output_into_head_exits_quietly() -> None:
    """The reported case, through a real pipe to ``head -n 1`` (it failed 1 run in 3; the closed
    pipe above is the deterministic version)."""
    folder = str(fixture_dir("buildkit", "local-min")).rsplit("/", 1)[0]
    script = (f"{sys.executable} -m cachetui ls --json {folder} | head -n 1 >/dev/null; "
              f"{sys.executable} -m cachetui inspect --json --layers "
              f"{fixture_dir('buildkit', 'local-max')} | head -n 1 >/dev/null")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    assert done.stderr == "", done.stderr


def test_partial_ls_names_each_failure_on_stderr(tmp_path: Path) -> None:
    good = copy_fixture("local-min", tmp_path / "good")
    bad = copy_fixture("local-multi-tag", tmp_path / "bad")
    # Break every manifest of the second directory: its tags cannot be read.
    import json

    index = json.loads((bad / "index.json").read_bytes())
    for entry in index["manifests"]:
        path = bad / "blobs" / "sha256" / entry["digest"][7:]
        path.chmod(0o644)
        path.write_bytes(b"x" * entry["size"])
    tags = [entry["annotations"].get("org.opencontainers.image.ref.name") for entry in
            index["manifests"]]
    done = _run("ls", str(good), str(bad))
    assert done.returncode == 3, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == len(tags)
    for tag in tags:
        assert any(f"{bad}:{tag}" in line for line in lines), (tag, lines)


def test_partial_prune_names_each_failure_on_stderr(tmp_path: Path) -> None:
    multi = copy_fixture("local-multi-tag", tmp_path / "multi")
    done = _run("prune", f"{multi}:nosuchtag")
    assert done.returncode == 3
    assert [line for line in done.stderr.splitlines() if "nosuchtag" in line], done.stderr


def test_partial_gc_names_each_failure_on_stderr(tmp_path: Path) -> None:
    """A stale ingest entry that cannot be removed (its folder is immutable to rmtree: a file
    inside a read-only directory, as a non-root user sees it) is a failure line."""
    if os.geteuid() == 0 and shutil.which("chattr") is None:
        pytest.fail("needs a non-root user or chattr to make a deletion fail")
    root = copy_fixture("local-min", tmp_path / "dir")
    stuck = root / "ingest" / "abc"
    stuck.mkdir(parents=True)
    (stuck / "data").write_bytes(b"x")
    os.utime(stuck / "data", (1_000_000_000, 1_000_000_000))
    os.utime(stuck, (1_000_000_000, 1_000_000_000))
    immutable = subprocess.run(["chattr", "+i", str(stuck / "data")], capture_output=True,
                               check=False).returncode == 0 if os.geteuid() == 0 else False
    if os.geteuid() != 0:
        stuck.chmod(0o555)
    elif not immutable:
        pytest.fail("chattr +i did not work here")
    try:
        done = _run("gc", str(root), "--yes")
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(stuck / "data")], check=False)
        stuck.chmod(0o755)
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert [line for line in done.stderr.splitlines() if "abc" in line], done.stderr

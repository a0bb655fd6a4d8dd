"""Start-up of the ``cachetui`` program: ``ls`` of a directory loads no terminal UI and no HTTP
stack, httpx loads without its command-line client (rich, click, pygments), ``--version`` and
``--help`` load no command, and commands run with the paced garbage collector
(``bench/bench_startup.py`` measures what each of these saves)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cachetui import startup
from tests.fixtures import REPO_ROOT

PROBE = """
import gc, json, sys
from cachetui import entry
entry.startup.pace_gc()
then_httpx = sys.argv[1] == "--then-httpx"
code = entry.main(sys.argv[2 if then_httpx else 1:])
if then_httpx:  # as a network store would, after the CLI's imports
    import httpx
print(json.dumps({"code": code, "gc": gc.get_threshold(), "imported": sorted(sys.modules),
                  "loaded": sorted(m for m in sys.modules
                                   if m.split(".")[0] in ("textual", "rich", "click", "pygments")
                                   or m == "cachetui.tui")}), file=sys.stderr)
"""
NETWORK_AND_UI = {"httpx", "httpx_aiohttp", "aiohttp", "botocore", "azure", "textual", "rich",
                  "cachetui.tui", "cachetui.store.registry", "cachetui.store.gha.store"}
"""What a directory listing needs none of (httpx alone is ~80 ms of start-up)."""


def probe(*argv: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run ``cachetui ARGV`` in a fresh interpreter; what it printed and what it imported."""
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=120)
    return done, json.loads(done.stderr.strip().splitlines()[-1])


def test_ls_of_a_directory_loads_no_http_stack_and_no_ui(tmp_path: Path) -> None:
    """A directory needs neither httpx, aiohttp nor Textual: they load with the stores and the
    UI that use them (before, ``ls`` loaded httpx through the gha view, ~80 ms)."""
    done, report = probe("ls", "--json", str(tmp_path))
    assert report["code"] == 1
    assert NETWORK_AND_UI.isdisjoint(report["imported"]), NETWORK_AND_UI & set(report["imported"])
    assert tuple(report["gc"]) == startup.GC_THRESHOLD
    [row] = json.loads(done.stdout)  # it ran: the empty folder is reported
    assert row["source"] == str(tmp_path) and "no cache directories" in row["error"]


@pytest.mark.parametrize("argv", [
    ["inspect", "{cache}"], ["space", "{cache}"], ["prune", "{cache}", "--keep", "0"],
    ["copy", "--dry-run", "{cache}", "{out}"],
    ["reexport", "--dry-run", "{cache}", "{out}", "--compression", "zstd"],
    ["diff", "{cache}:latest", "{cache}:latest"], ["shares", "{cache}", "{layer}"],
    ["gc", "{cache}"],
], ids=lambda argv: argv[0])
def test_directory_commands_load_no_http_stack_and_no_ui(tmp_path: Path,
                                                          argv: list[str]) -> None:
    """Every command on directories starts without httpx, aiohttp and Textual (before: inspect,
    space, prune and gc loaded httpx through the object-store and gha modules, copy loaded the
    re-export codecs)."""
    from cachetui.demo.generator import CacheShape, write_cache

    written = write_cache(tmp_path / "cache", "latest", CacheShape(layer_bytes=1024))
    args = [word.format(cache=tmp_path / "cache", out=tmp_path / "out",
                        layer=written.layers[0].digest) for word in argv]
    done, report = probe(*args)
    assert report["code"] == 0, done.stderr
    assert NETWORK_AND_UI.isdisjoint(report["imported"]), NETWORK_AND_UI & set(report["imported"])
    if argv[0] == "copy":
        assert "cachetui.ops.recompress" not in report["imported"]
    assert not (tmp_path / "out").exists()  # dry runs


def test_httpx_loads_without_its_cli(tmp_path: Path) -> None:
    """Importing httpx would load rich, click and pygments for its own CLI (about 60 ms of
    every start); the stand-in module keeps them out."""
    _, report = probe("--then-httpx", "ls", "--json", str(tmp_path))
    assert report["code"] == 1  # the empty folder: no cache directories
    assert "httpx" in report["imported"]
    assert report["loaded"] == []


@pytest.mark.parametrize("flag", ["--version", "--help", "-h"])
def test_version_and_help_load_no_command(flag: str) -> None:
    """``--version`` and the top-level help are answered by the top-level parser alone: no
    command module, no asyncio (before, every command's module was imported: ~0.2 s)."""
    done, report = probe(flag)
    assert report["code"] == 0
    assert ("cachetui 0.1.0" if flag == "--version" else "usage: cachetui") in done.stdout
    commands = sorted(m for m in report["imported"] if m.startswith("cachetui.cli.")
                      and m.endswith(("_cmd", "_view")))
    assert commands == []
    assert "asyncio" not in report["imported"]


def test_tag_completion_of_a_directory_loads_no_command_machinery(tmp_path: Path) -> None:
    """Shells run ``__complete-tags`` on every TAB after ``DIR:``; it reads one index.json and
    needs neither asyncio nor msgspec (before: both, through cli.common, ~75 ms)."""
    from cachetui.demo.generator import CacheShape, write_cache

    write_cache(tmp_path / "cache", "latest", CacheShape(layer_bytes=1024))
    done, report = probe("__complete-tags", f"{tmp_path / 'cache'}:la")
    assert report["code"] == 0
    assert done.stdout == f"{tmp_path / 'cache'}:latest\n"
    assert {"asyncio", "msgspec", "cachetui.cli.common"}.isdisjoint(report["imported"])


def test_top_level_help_is_the_full_parsers() -> None:
    """The parser ``--help`` uses (no command configured) prints what the full one prints."""
    from cachetui.cli import build_parser

    assert build_parser("").format_help() == build_parser().format_help()


def test_stand_in_is_used_only_before_httpx_loads() -> None:
    """Once httpx is imported (as in this test process) nothing is replaced."""
    import httpx

    before = sys.modules.get("httpx._main")
    startup.skip_httpx_cli()
    assert sys.modules.get("httpx._main") is before
    assert httpx.AsyncClient is not None


def test_pace_gc_sets_the_threshold() -> None:
    saved = gc.get_threshold()
    try:
        startup.pace_gc()
        assert gc.get_threshold() == startup.GC_THRESHOLD
    finally:
        gc.set_threshold(*saved)

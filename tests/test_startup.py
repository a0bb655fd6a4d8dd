"""Start-up of the ``cachetui`` program: ``ls`` of a directory loads no terminal UI and no HTTP
stack, httpx loads without its command-line client (rich, click, pygments), ``--version`` and
``--help`` load no command, and commands run with the paced garbage collector
(``bench/bench_startup.py`` measures what each of these saves)."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cachetui import startup
from tests.fixtures import REPO_ROOT
from tests.registry_procs import RunningRegistry
from tests.registry_server import unique_repo
from tests.test_registry_inventory import LAYOUTS, _fill

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
    # nor what only a table's totals line (ops.space), a config file (tomllib) or a gha source
    # (its location parsing and views) needs
    assert {"cachetui.ops.space", "tomllib", "cachetui.store.gha.location",
            "cachetui.cli.gha_view"}.isdisjoint(report["imported"])
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


GC_PROBE = """
import gc, json, sys
from cachetui import entry, startup
seen = []

def loaded():
    registry = sys.modules.get("cachetui.store.registry")
    return registry is not None and hasattr(registry, "RegistryStore")

gc.callbacks.append(lambda phase, info: phase == "start" and seen.append(loaded()))
startup.pause_gc()  # as entry.entry does, first thing
startup.pace_gc()
code = entry.main(sys.argv[1:])
print(json.dumps({"code": code, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
                  "during_loading": seen.count(False)}), file=sys.stderr)
"""


def test_the_program_collects_nothing_while_its_modules_load(registry: RunningRegistry) -> None:
    """A registry ``ls`` loads the CLI, the command and then the registry stack (~50,000 objects
    that live as long as the process): no collection runs before all of them are loaded (before:
    a collection every 700 allocations, then every 20,000: ~9 ms of its start-up); then they are
    frozen out of later collections, and collections are on again."""
    done = subprocess.run([sys.executable, "-c", GC_PROBE, "ls", "--json", "--no-cache",
                           f"{registry.host}/absent/repo"], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=120)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 1  # the repository is not there: one request, answered 404
    assert report["during_loading"] == 0
    assert report["enabled"] and report["frozen"] > 10_000


HTTPX_AND_ITS_OWN = {"httpx", "httpcore", "h11", "anyio", "urllib.request", "http.client",
                     "http.cookiejar", "email.utils", "aiohttp"}
"""What an anonymous registry listing does without: httpx and what only it (or a proxy, or a
date in ``Retry-After``) needs, about 30 ms of start-up."""


def test_an_anonymous_registry_listing_loads_no_httpx(registry: RunningRegistry) -> None:
    """Tag page, manifests and configs all go through libcurl, so httpx is not loaded (it is
    loaded on first use: :mod:`cachetui.store.lazyhttpx`), nor for a registry's error answer,
    which is the same one line as ever."""
    repo = unique_repo("nohttpx")
    asyncio.run(_fill(registry.host, repo, copies=1))
    done, report = probe("ls", "--json", "--no-cache", f"{registry.host}/{repo}")
    assert report["code"] == 0, done.stderr
    rows = json.loads(done.stdout)
    assert len(rows) == len(LAYOUTS) and all("error" not in row and row["layer_count"] > 0
                                             for row in rows)
    assert HTTPX_AND_ITS_OWN.isdisjoint(report["imported"]), \
        HTTPX_AND_ITS_OWN & set(report["imported"])
    assert "cachetui.store.registry.curl" in report["imported"]

    done, report = probe("ls", "--json", "--no-cache", f"{registry.host}/absent/repo")
    assert report["code"] == 1
    [row] = json.loads(done.stdout)
    assert row["error"] == (f"{registry.host}/absent/repo: list tags: repository name not known "
                            f"to registry (HTTP 404, NAME_UNKNOWN)")
    assert HTTPX_AND_ITS_OWN.isdisjoint(report["imported"])


def test_loading_changes_nothing_outside_the_program() -> None:
    """Library users (tests, the TUI's own event loop) keep their collector as it was."""
    frozen = gc.get_freeze_count()
    assert not startup._program
    with startup.loading():
        assert gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == frozen


@pytest.mark.parametrize("name", ["ls", "copy", "inspect"])
def test_a_commands_parser_is_built_alone_and_unchanged(name: str) -> None:
    """A command's run builds its own parser only (no parser for the 14 others); its help and
    what it parses are those of the full parser's."""
    import argparse

    from cachetui.cli import build_parser

    def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return dict(action.choices)

    alone, full = subcommands(build_parser(name)), subcommands(build_parser())
    assert list(alone) == [name] and len(full) == 15
    assert alone[name].format_help() == full[name].format_help()
    argv = [name, "--json", "some/source"] if name != "copy" else [name, "a", "b"]
    assert vars(build_parser(name).parse_args(argv)) == vars(build_parser().parse_args(argv))


KEEP_PROBE = """
import json, sys
from cachetui import entry, startup
startup.pause_gc()  # the program, as entry.entry starts it
code = entry.main(sys.argv[1:])
kept = [len(getattr(value, "entries", ())) for value in startup._kept]
print(json.dumps({"code": code, "kept": kept}), file=sys.stderr)
"""


def test_ls_leaves_its_listing_to_the_exit(tmp_path: Path) -> None:
    """The program's ``ls`` keeps its listing until the process ends (freeing 300 caches object
    by object took ~5 ms after the output, before the exit); as a library it keeps nothing."""
    from cachetui.cli import main
    from cachetui.demo.generator import CacheShape, write_cache

    for name in ("a", "b"):
        write_cache(tmp_path / name, "latest", CacheShape(layer_bytes=1024))
    done = subprocess.run([sys.executable, "-c", KEEP_PROBE, "ls", "--json", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "kept": [2]}
    assert len(json.loads(done.stdout)) == 2
    assert main(["ls", "--json", str(tmp_path)]) == 0
    assert startup._kept == []


FREEZE_PROBE = """
import gc, json, sys
from cachetui import startup
from cachetui.config import Config
from cachetui.locations import Workspace
startup.pause_gc()
startup.resume_gc()  # the program, once its command started
Workspace(Config()).registry_session()  # loads the registry stack: paused, then frozen
first = gc.get_freeze_count()
made_since = [{"n": n} for n in range(10_000)]  # a long-running UI's objects of the moment
Workspace(Config()).registry_session()
print(json.dumps({"first": first, "second": gc.get_freeze_count(), "enabled": gc.isenabled()}))
"""


def test_only_the_first_registry_session_of_a_process_freezes() -> None:
    """The registry stack loads once: a later session (the TUI opens workspaces as it goes)
    pauses and freezes nothing, so the UI's objects of that moment stay collectable."""
    done = subprocess.run([sys.executable, "-c", FREEZE_PROBE], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=120, check=True)
    report = json.loads(done.stdout)
    assert report["first"] > 10_000 and report["second"] == report["first"]
    assert report["enabled"]

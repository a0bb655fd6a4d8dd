"""Start-up of the ``cachetui`` program: ``ls`` loads no terminal UI, no httpx command-line
client (rich, click, pygments), and runs with the paced garbage collector; a registry listing
through it still works."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

from cachetui import startup
from tests.fixtures import REPO_ROOT

PROBE = """
import gc, json, sys
from cachetui import entry
entry.startup.pace_gc()
code = entry.main(sys.argv[1:])
print(json.dumps({"code": code, "gc": gc.get_threshold(), "imported": sorted(sys.modules),
                  "loaded": sorted(m for m in sys.modules
                                   if m.split(".")[0] in ("textual", "rich", "click", "pygments")
                                   or m == "cachetui.tui")}), file=sys.stderr)
"""


def test_ls_loads_no_ui_and_no_httpx_cli(tmp_path: Path) -> None:
    """Importing httpx would load rich, click and pygments for its own CLI (about 60 ms of
    every start); the stand-in module keeps them out, and Textual loads only with the UI."""
    done = subprocess.run([sys.executable, "-c", PROBE, "ls", "--json", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert "httpx" in report["imported"]  # the listing code was loaded, httpx with it
    assert report["loaded"] == []
    assert tuple(report["gc"]) == startup.GC_THRESHOLD
    [row] = json.loads(done.stdout)  # it ran: the empty folder is reported
    assert row["source"] == str(tmp_path) and "no cache directories" in row["error"]


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

"""Only cachetui.tui imports Textual: the core, the CLI's headless commands and ops stay UI-free."""

from __future__ import annotations

import subprocess
import sys

CORE = ["cachetui", "cachetui.oci.models", "cachetui.buildkit.analysis", "cachetui.buildkit.diff",
        "cachetui.store.layout", "cachetui.ops.inventory", "cachetui.ops.load", "cachetui.report",
        "cachetui.config", "cachetui.sources", "cachetui.demo.dataset", "cachetui.cli",
        "cachetui.cli.ls_cmd", "cachetui.cli.inspect_cmd"]


def test_core_modules_do_not_import_textual() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {CORE!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')"
        " or m.startswith('cachetui.tui'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == ""


def test_pure_layers_do_no_io_imports() -> None:
    code = (
        "import sys\n"
        "import cachetui.oci.models, cachetui.buildkit.analysis, cachetui.buildkit.diff\n"
        "print(','.join(sorted(m for m in sys.modules if m in ('httpx', 'asyncio', 'textual'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == ""

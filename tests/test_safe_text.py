"""Names from a store never reach the terminal with control characters (issue 10, item 18).

A tag in ``index.json`` named with ESC/BEL sequences cleared the screen, set the title or forged
lines in ``ls``, ``inspect``, the prune plan and the TUI. Every one now shows the escapes.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from cachetui.cli import main
from cachetui.present.safe_text import safe, safe_lines
from tests.prune_support import copy_fixture

EVIL = "ok\x1b[2J\x1b]0;pwned\x07\nFORGED line\u202e\x9b"
SHOWN = "ok\\x1b[2J\\x1b]0;pwned\\x07\\x0aFORGED line\\u202e\\x9b"


def test_safe_escapes_every_control_character_and_keeps_plain_names() -> None:
    assert safe(EVIL) == SHOWN
    for plain in ("buildcache-main", "ghcr.io/acme/app:v1.2", "caché-日本", "a b"):
        assert safe(plain) == plain
    assert safe("\x00\x7f\u2028") == "\\x00\\x7f\\u2028"
    assert safe_lines("one\ntwo\x1b") == "one\ntwo\\x1b"


@pytest.fixture
def evil_dir(tmp_path: Path) -> Path:
    """local-min with its one tag renamed to a terminal escape sequence."""
    root = copy_fixture("local-min", tmp_path / "evil")
    index = json.loads((root / "index.json").read_bytes())
    index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] = EVIL
    (root / "index.json").write_text(json.dumps(index))
    return root


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _assert_clean(text: str) -> None:
    for char in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert char not in text, repr(text)
    assert "\nFORGED" not in text


@pytest.mark.parametrize("argv", [
    ["ls", "{dir}"],
    ["inspect", "--layers", "{dir}"],
    ["prune", "{dir}", "--match", "*"],
    ["inspect", "{dir}:nosuch\x1b]0;x\x07"],
    ["copy", "--dry-run", "{dir}", "{dir}-copy"],
])
def test_cli_output_shows_escapes_not_control_characters(evil_dir: Path, argv: list[str]) -> None:
    _, out, err = _run(*(arg.replace("{dir}", str(evil_dir)) for arg in argv))
    _assert_clean(out)
    _assert_clean(err)
    assert "\\x1b" in out + err, (out, err)


async def test_the_tui_shows_escapes_not_control_characters(
        evil_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from cachetui.tui.app import make_app
    from cachetui.tui.widgets.cache_table import CacheTable
    from cachetui.tui.widgets.sources_tree import SourcesTree
    from tests.tui.conftest import clock, settle

    monkeypatch.setenv("CACHETUI_CONFIG", str(tmp_path / "no-config.toml"))
    app = make_app([str(evil_dir)], clock=clock, use_config_sources=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(CacheTable)
        assert table.row_count == 1
        cells = " ".join(str(cell) for cell in table.get_row_at(0))
        _assert_clean(cells)
        assert "\\x9b" in cells  # the tag column shows the end of a long name
        tree = app.screen.query_one(SourcesTree)
        labels = " ".join(str(node.label) for node in tree.root.children)
        _assert_clean(labels)
        await pilot.press("enter")
        await settle(pilot)
        crumbs = str(app.screen.query_one("#breadcrumbs").render())
        _assert_clean(crumbs)
        assert "\\x1b" in crumbs

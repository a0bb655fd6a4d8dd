"""Smoke test: the real ``cachetui demo`` in a real terminal (tmux), keys in, screen text out."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.fixtures import REPO_ROOT

DEADLINE = 30.0


SOCKET = f"cachetui-test-{uuid.uuid4().hex[:8]}"
"""A private tmux server: a shared one (other test runs on the machine) can impose its own size."""


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, "-f", "/dev/null", *args], check=True,
                          capture_output=True, text=True).stdout


def _wait_for(session: str, text: str) -> str:
    """Poll the pane until ``text`` shows (a separate process: there is no event to await)."""
    end = time.monotonic() + DEADLINE
    screen = ""
    while time.monotonic() < end:
        screen = _tmux("capture-pane", "-p", "-t", session)
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")


def test_cachetui_demo_in_tmux(tmp_path: Path) -> None:
    assert shutil.which("tmux"), "tmux is required (scripts/test.sh installs it)"
    session = f"cachetui-{uuid.uuid4().hex[:8]}"
    # The pane may start at tmux's default size and be resized as the session attaches: let the
    # size settle before the app reads it (a resize in between would be lost to the race).
    command = (f"sleep 1; cd {REPO_ROOT} && XDG_CACHE_HOME={tmp_path} CACHETUI_CONFIG={tmp_path}/none.toml "
               f"{sys.executable} -m cachetui demo; echo EXITED-$?; sleep 30")
    _tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "36", command)
    try:
        screen = _wait_for(session, "renovate-deps")
        assert "buildcache" in screen and "Directories" in screen and "Mark" in screen
        _tmux("send-keys", "-t", session, "G")
        _wait_for(session, "malformed JSON")
        _tmux("send-keys", "-t", session, "g", "Enter")
        screen = _wait_for(session, "Min versus max")
        assert "intermediate only" in screen
        _tmux("send-keys", "-t", session, "Escape")
        _wait_for(session, "Refresh")  # back on the main screen (its footer)
        _tmux("send-keys", "-t", session, "q")
        _wait_for(session, "EXITED-0")
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", session], check=False,
                       capture_output=True)


def test_ascii_only_terminal_gets_ascii_glyphs(tmp_path: Path) -> None:
    """With an ASCII output encoding the UI draws ASCII look-alikes, never ``\\u25bc`` escapes."""
    session = f"cachetui-{uuid.uuid4().hex[:8]}"
    command = (f"sleep 1; cd {REPO_ROOT} && PYTHONIOENCODING=ascii XDG_CACHE_HOME={tmp_path} "
               f"CACHETUI_CONFIG={tmp_path}/none.toml {sys.executable} -m cachetui demo; "
               "echo EXITED-$?; sleep 30")
    _tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", command)
    try:
        screen = _wait_for(session, "legacy-oci-index")
        assert "\\u" not in screen
        assert screen.isascii()
        assert "v Directories" in screen and "enter Open" in screen and "? Help" in screen
        _tmux("send-keys", "-t", session, "q")
        _wait_for(session, "EXITED-0")
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", session], check=False,
                       capture_output=True)

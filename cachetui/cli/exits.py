"""The exit codes of every command (a module of its own, so that ``cachetui --version`` and
``--help`` need nothing of what runs commands)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
"""Some sources or items failed while others succeeded (stderr has one line per failure)."""
EXIT_BROKEN_PIPE = 141
"""The reader of stdout went away (``cachetui ls | head``): quiet, as if killed by SIGPIPE."""

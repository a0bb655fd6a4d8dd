"""What every subcommand shares: error handling, exit codes, JSON and table output."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import select
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import msgspec

from cachetui import startup

# The exit codes, re-exported: every command takes them from here.
from cachetui.cli.exits import EXIT_BROKEN_PIPE as EXIT_BROKEN_PIPE
from cachetui.cli.exits import EXIT_ERROR as EXIT_ERROR
from cachetui.cli.exits import EXIT_OK as EXIT_OK
from cachetui.cli.exits import EXIT_PARTIAL as EXIT_PARTIAL
from cachetui.cli.exits import EXIT_USAGE as EXIT_USAGE
from cachetui.errors import CachetuiError, InvalidInput, UsageError
from cachetui.oci.models import encode_json
from cachetui.present.safe_text import safe
from cachetui.store import fsutil

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def run_command(args: argparse.Namespace) -> int:
    """Run the async handler a subcommand registered, turning errors into messages."""
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        print("cachetui: no command given (see cachetui --help)", file=sys.stderr)
        return EXIT_USAGE
    fsutil.lock_wait_notice = lock_wait_message
    startup.resume_gc()  # the command's modules are loaded (the program paused collections)
    try:
        return asyncio.run(handler(args))
    except (NoTerminal, UsageError) as exc:
        error(str(exc))
        return EXIT_USAGE
    except CachetuiError as exc:
        error(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:
        if not stdout_is_broken():
            error("broken pipe")
            return EXIT_ERROR
        silence_stdout()
        return EXIT_BROKEN_PIPE


def lock_wait_message(lock_path: Path, since: datetime) -> None:
    """A held ``index.json.lock``: one line saying what cachetui waits for, and since when."""
    error_line = (f"cachetui: waiting for {safe(str(lock_path))}: another process (a build or "
                  f"another cachetui) holds it; waiting since {since:%H:%M:%S} UTC")
    with contextlib.suppress(BrokenPipeError):
        print(error_line, file=sys.stderr, flush=True)


def stdout_is_broken() -> bool:
    """Whether stdout is a pipe whose reader has gone (not some other pipe that broke)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError):
        return True


def silence_stdout() -> None:
    """Point stdout at /dev/null so the buffered rest (flushed at exit) fails no more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def error(message: str) -> None:
    try:
        print(f"cachetui: error: {safe(message)}", file=sys.stderr)
    except BrokenPipeError:
        pass


def require_terminal(instead: str) -> None:
    """The terminal UI needs a terminal: without one it would spin forever drawing to nowhere."""
    if not (sys.stdout.isatty() and sys.stdin.isatty()):
        raise NoTerminal(f"the terminal UI needs a terminal (stdin and stdout); in scripts use "
                         f"{instead}")


class NoTerminal(CachetuiError):
    """A command that needs a terminal ran without one (a usage error: exit 2)."""


def print_json(value: Any, out: TextIO | None = None) -> None:
    # Encoded in C and written once: json.dump with an indent runs a pure-Python encoder and
    # issues one small write per token (tens of thousands for a large ``ls``).
    text = msgspec.json.format(encode_json(value), indent=2).decode()
    (out or sys.stdout).write(text + "\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *,
          right: Sequence[int] = ()) -> str:
    """A plain aligned text table; columns listed in ``right`` are right-aligned (numbers).

    Cells are names from stores, too: control characters in them are escaped (:func:`safe`).
    """
    rows = [[safe(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def add_format_arguments(parser: argparse.ArgumentParser, *, json_help: str,
                         format_help: str) -> None:
    """``--json`` and ``--format table|json|csv`` of a report (read back by :func:`output`)."""
    parser.add_argument("--json", action="store_true", help=json_help)
    parser.add_argument("--format", choices=["table", "json", "csv"], default=None,
                        help=format_help)


def output(args: argparse.Namespace) -> str:
    """``table``, ``json`` or ``csv``: what :func:`add_format_arguments` asked for."""
    return "json" if args.json else (args.format or "table")


def option_duration(text: str, option: str) -> timedelta:
    """A duration flag's value; a malformed one is a usage error (exit 2)."""
    from cachetui.ops.policy import parse_duration  # not loaded by commands without one

    try:
        return parse_duration(text, option=option)
    except InvalidInput as exc:
        raise UsageError(str(exc)) from None


def option_size(text: str, option: str) -> int:
    """A size flag's value; a malformed one is a usage error (exit 2)."""
    from cachetui.ops.policy import parse_size  # not loaded by commands without one

    try:
        return parse_size(text, option=option)
    except InvalidInput as exc:
        raise UsageError(str(exc)) from None

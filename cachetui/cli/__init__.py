"""The ``cachetui`` command: no subcommand opens the TUI; subcommands serve scripts.

Each subcommand lives in its own module with a ``register(subparsers)`` function; they all call the
same ``cachetui.ops`` functions as the TUI. Every user-facing failure is a one-line message on
stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from cachetui import __version__
from cachetui.cli import commands
from cachetui.cli.common import EXIT_ERROR, EXIT_USAGE, run_command


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The full parser, with arguments for ``selected`` only (every command when None)."""
    parser = argparse.ArgumentParser(
        prog="cachetui",
        description="See inside, copy, prune and re-export BuildKit build caches.",
        epilog="Without a subcommand, cachetui opens the terminal UI on the given sources.",
    )
    parser.add_argument("--version", action="version", version=f"cachetui {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_commands(subparsers, selected)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0] not in commands.NAMES
                         and args_list[0] not in ("-h", "--help", "--version")):
        args_list = ["open", *args_list]
    parser = build_parser(args_list[0] if args_list[0] in commands.NAMES else None)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    return run_command(args)


def entry() -> NoReturn:
    """The ``cachetui`` script: :func:`main`, then an exit that skips interpreter teardown.

    Everything is written and closed when ``main`` returns; tearing down thousands of objects
    and modules would only add ~30 ms to every command (a tenth of a registry listing).
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # `cachetui ls | head`
        code = code or EXIT_ERROR
    os._exit(code)

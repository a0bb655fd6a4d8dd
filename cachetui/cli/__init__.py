"""The ``cachetui`` command: no subcommand opens the TUI; subcommands serve scripts.

Each subcommand lives in its own module with a ``register(subparsers)`` function; they all call the
same ``cachetui.ops`` functions as the TUI. Every user-facing failure is a one-line message on
stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from cachetui import __version__
from cachetui.cli import commands
from cachetui.cli.exits import EXIT_BROKEN_PIPE, EXIT_USAGE

NO_CACHE = "--no-cache"
"""A global flag, taken out before the subcommand's parser sees the arguments."""
TOP_LEVEL = ("-h", "--help", "--version")
"""First words the top-level parser answers alone: no command's module is imported for them."""


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The parser for ``selected`` (a command's name: that command alone, with its arguments),
    every command with its arguments (None), or every command by name and help line only (any
    other word: the top-level help)."""
    parser = argparse.ArgumentParser(
        prog="cachetui",
        description="See inside, copy, prune and re-export BuildKit build caches.",
        epilog="Without a subcommand, cachetui opens the terminal UI on the given sources.",
    )
    parser.add_argument("--version", action="version", version=f"cachetui {__version__}")
    parser.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the on-disk cache of manifests and configs "
                             "(accepted anywhere on the command line)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_commands(subparsers, selected)
    return parser


def plausible_source(word: str) -> bool:
    """Whether a first word that is no command could be a source for the UI: a path that exists,
    or something shaped like DIR:TAG, HOST, HOST/REPO or a buildx spec. A bare word such as a
    mistyped ``lsit`` is none of these (it would open a Docker Hub repository of that name)."""
    return (word.startswith("-") or os.path.exists(word) or word == "localhost"
            or any(mark in word for mark in "/:.=~"))


def unknown_command(word: str) -> int:
    import difflib

    close = difflib.get_close_matches(word, sorted(commands.NAMES), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    print(f"cachetui: error: unknown command {word!r}{hint}; see cachetui --help (a source "
          "for the UI is a directory, HOST, HOST/REPO or a spec)", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    options = args_list[:args_list.index("--")] if "--" in args_list else args_list
    if NO_CACHE in options:
        from cachetui.store import diskcache

        args_list.remove(NO_CACHE)
        diskcache.disable()
    if args_list and args_list[0] == "__complete-tags":  # for the completion scripts only
        from cachetui.cli.completion_cmd import complete_tags

        return complete_tags(args_list[1:])
    if not args_list or (args_list[0] not in commands.NAMES and args_list[0] not in TOP_LEVEL):
        if args_list and not plausible_source(args_list[0]):
            return unknown_command(args_list[0])
        args_list = ["open", *args_list]
    # ``--version`` and ``--help`` exit while parsing, before any command's arguments are read.
    parser = build_parser(args_list[0] if args_list[0] in commands.NAMES else "")
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    from cachetui.cli.common import run_command  # asyncio and the rest: only to run a command

    return run_command(args)


def entry() -> NoReturn:
    """The ``cachetui`` script: :func:`main`, then an exit that skips interpreter teardown.

    Everything is written and closed when ``main`` returns, except what waits for the exit
    handlers (the disk cache commits its last reads there: ``inspect HOST/REPO:TAG`` kept
    nothing while ``os._exit`` skipped them); tearing down thousands of objects and modules
    would only add ~30 ms to every command (a tenth of a registry listing).
    """
    code = main()
    atexit._run_exitfuncs()  # what a normal exit runs before the teardown it skips
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # `cachetui ls | head`: the reader has all it wanted
        from cachetui.cli.common import silence_stdout

        silence_stdout()
        code = code or EXIT_BROKEN_PIPE
    try:
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(code)

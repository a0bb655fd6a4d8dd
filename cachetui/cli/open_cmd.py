"""``cachetui [SOURCE ...]``: open the terminal UI (the default when no subcommand is given)."""

from __future__ import annotations

import argparse
import os
import sys

from cachetui.cli import ui
from cachetui.cli.common import EXIT_OK, require_terminal
from cachetui.cli.registry_args import add_registry_arguments, registry_settings
from cachetui.config import load_config
from cachetui.errors import InvalidInput

_HINT = "`cachetui ls SOURCE` (or inspect, copy, prune, gc)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="*", metavar="SOURCE")
    parser.add_argument("--read-only", action="store_true",
                        help="hide every destructive key and command")
    add_registry_arguments(parser)
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    config = load_config()
    settings = registry_settings(args, config)  # the same flags as every other command
    if args.password_stdin and not sys.stdin.isatty():
        _keyboard_from_terminal()
    require_terminal(_HINT)
    await ui.launch(ui.UiRequest(list(args.sources), config=config, read_only=args.read_only,
                                 registry_settings=settings))
    return EXIT_OK


def _keyboard_from_terminal() -> None:
    """After a password came through a pipe, the UI reads its keys from the terminal."""
    try:
        tty = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        raise InvalidInput("--password-stdin: no terminal to read keys from afterwards") from None
    os.dup2(tty, sys.stdin.fileno())
    os.close(tty)

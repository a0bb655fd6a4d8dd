"""``cachetui [SOURCE ...]``: open the terminal UI (the default when no subcommand is given)."""

from __future__ import annotations

import argparse

from cachetui.cli.common import EXIT_OK
from cachetui.cli.registry_args import add_registry_arguments
from cachetui.config import load_config


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("open", help="open the terminal UI (default)")
    parser.add_argument("sources", nargs="*", metavar="SOURCE")
    parser.add_argument("--read-only", action="store_true",
                        help="hide every destructive key and command")
    add_registry_arguments(parser)
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    config = load_config()
    from cachetui.tui.app import make_app  # Textual loads only when the UI opens

    app = make_app(list(args.sources), config=config, read_only=args.read_only)
    await app.run_async()
    return EXIT_OK

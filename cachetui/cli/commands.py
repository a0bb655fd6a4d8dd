"""The list of subcommands. Each module adds its parser with ``register(subparsers)``."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from cachetui.cli import (
    copy_cmd,
    demo_cmd,
    gc_cmd,
    inspect_cmd,
    ls_cmd,
    open_cmd,
    prune_cmd,
    reexport_cmd,
)

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

REGISTRY: list[Register] = [
    open_cmd.register,
    ls_cmd.register,
    inspect_cmd.register,
    prune_cmd.register,
    gc_cmd.register,
    demo_cmd.register,
    copy_cmd.register,
    reexport_cmd.register,
]


def names(parser: argparse.ArgumentParser) -> list[str]:
    """Subcommand names known to ``parser``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []

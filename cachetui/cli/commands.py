"""The subcommands. Each module named here has ``configure(parser)`` and sets ``handler``.

Only the module of the command being run is imported (all of them for ``cachetui --help``): a
``cachetui ls`` starts without loading the copy, re-export and prune machinery, which is a fifth
of its start-up time.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    module: str
    help: str


COMMANDS: tuple[Command, ...] = (
    Command("open", "cachetui.cli.open_cmd", "open the terminal UI (default)"),
    Command("ls", "cachetui.cli.ls_cmd", "list caches in directories and registries"),
    Command("inspect", "cachetui.cli.inspect_cmd",
            "show one cache: format, layers, records, min versus max"),
    Command("diff", "cachetui.cli.diff_cmd",
            "compare two caches: shared layers (by digest and diffID), records in common"),
    Command("space", "cachetui.cli.space_cmd",
            "where the space goes: deduplicated, one-cache-only and reclaimable bytes, by age"),
    Command("shares", "cachetui.cli.shares_cmd",
            "which caches hold a layer (same blob, or same content in another encoding)"),
    Command("prune", "cachetui.cli.prune_cmd", "delete caches by policy (dry run unless --yes)"),
    Command("gc", "cachetui.cli.gc_cmd",
            "delete unreferenced blobs of cache directories (dry run unless --yes)"),
    Command("objects", "cachetui.cli.objects_cmd",
            "orphaned blobs and dangling references of s3/azblob caches"),
    Command("touch", "cachetui.cli.touch_cmd",
            "refresh LastModified of the blobs s3/azblob manifests use (dry run unless --yes)"),
    Command("demo", "cachetui.cli.demo_cmd", "open the terminal UI on built-in demo caches"),
    Command("copy", "cachetui.cli.copy_cmd",
            "copy caches between directories and registries (digests preserved)"),
    Command("reexport", "cachetui.cli.reexport_cmd",
            "re-encode a cache (compression, media types, form, min) keeping every cache hit"),
    Command("completion", "cachetui.cli.completion_cmd",
            "print a bash, zsh or fish completion script"),
    Command("cache", "cachetui.cli.cache_cmd",
            "the on-disk cache of manifests and configs: clear, info"),
)

NAMES: frozenset[str] = frozenset(command.name for command in COMMANDS)


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
                 selected: str | None) -> None:
    """``selected`` gets its arguments and handler, and is the only command when it names one
    (the one being run: parsers for the others, never used, were over half the time of building
    ``ls``'s, ~2 ms); otherwise every command is listed (the top-level help), configured when
    ``selected`` is None."""
    for command in COMMANDS:
        if selected in NAMES and selected != command.name:
            continue
        parser = subparsers.add_parser(command.name, help=command.help)
        if selected is None or selected == command.name:
            importlib.import_module(command.module).configure(parser)

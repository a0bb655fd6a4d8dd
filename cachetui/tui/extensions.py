"""How other parts of cachetui add keys and palette commands to the TUI's screens.

A feature module calls :func:`register_action` at import time (the app imports the modules listed
in :data:`EXTENSION_MODULES`); every screen whose :attr:`~ExtensibleScreen.SCREEN_NAME` matches
binds the key, lists it in the help screen and offers it in the command palette. Destructive
actions are hidden entirely in read-only mode. See ``notes/tui-integration.md``.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

ScreenName = str
"""``main``, ``cache`` or ``compare``."""

EXTENSION_MODULES: list[str] = [
    "cachetui.tui.pruning",
    "cachetui.tui.copying",
    "cachetui.tui.collecting",
]
"""Modules imported by :func:`load_extensions` (each calls :func:`register_action`)."""


@dataclass(frozen=True, slots=True)
class ScreenAction:
    name: str
    """Unique id, e.g. ``copy.copy-to``."""
    screen: ScreenName
    description: str
    """Footer / help text, and the palette title."""
    run: Callable[[Any], Awaitable[None] | None]
    """Called with the screen instance (``MainScreen``, ``CacheScreen``...)."""
    key: str | None = None
    """Key(s) in Textual syntax (``"c"``, ``"d,delete"``); ``None`` for palette only."""
    help: str = ""
    destructive: bool = False
    """Hidden (not just disabled) in read-only mode (``--read-only``, ``read_only`` at the top of
    the config)."""
    modifies_source: bool = False
    """The action changes the stores of the rows it acts on (prune), not some destination: a
    destructive one is then also hidden when every row it would act on (the marked rows, else
    the current one) is on a read-only source, and should leave read-only rows out of its plan."""
    show: bool = True
    """Show the key in the footer."""
    available: Callable[[Any], bool] | None = None
    """Enabled only when this returns true for the screen (e.g. something is marked)."""
    unavailable: str = ""
    """What the user must do first, said when the key is pressed while ``available`` is false."""


_ACTIONS: dict[str, ScreenAction] = {}


def register_action(action: ScreenAction) -> None:
    _ACTIONS[action.name] = action


def unregister_action(name: str) -> None:
    _ACTIONS.pop(name, None)


def actions_for(screen: ScreenName) -> list[ScreenAction]:
    return [action for action in _ACTIONS.values() if action.screen == screen]


def get_action(name: str) -> ScreenAction | None:
    return _ACTIONS.get(name)


def load_extensions() -> None:
    for module in EXTENSION_MODULES:
        importlib.import_module(module)

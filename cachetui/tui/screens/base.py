"""What every cachetui screen shares: extension keys, palette commands, read-only hiding."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, ClassVar, cast

from textual.binding import Binding
from textual.screen import Screen

from cachetui.tui import extensions

if TYPE_CHECKING:
    from cachetui.tui.context import AppContext


@dataclass(frozen=True, slots=True)
class PaletteCommand:
    title: str
    help: str
    run: Callable[[], object]


class ExtensibleScreen(Screen[None]):
    SCREEN_NAME: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        for action in extensions.actions_for(self.SCREEN_NAME):
            if action.key:
                # Bound with an id, so the config's [keymap] can move it ("ext.prune.plan").
                for key in action.key.split(","):
                    self._bindings.key_to_bindings.setdefault(key.strip(), []).append(Binding(
                        key.strip(), f"ext('{action.name}')", action.description,
                        show=action.show, id=f"ext.{action.name}"))

    @property
    def cachetui(self) -> AppContext:
        return cast("AppContext", self.app)

    def is_read_only(self) -> bool:
        """The whole app is read-only."""
        return self.cachetui.read_only

    def sources_read_only(self) -> bool:
        """Every row an action would act on is on a read-only source (screens with rows say)."""
        return False

    def hides(self, ext: extensions.ScreenAction) -> bool:
        """Destructive actions are hidden, not just disabled, where they may not run."""
        return ext.destructive and (self.is_read_only() or (
            ext.modifies_source and self.sources_read_only()))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "ext" and parameters:
            ext = extensions.get_action(str(parameters[0]))
            if ext is None or self.hides(ext):
                return False
            if ext.available is not None and not ext.available(self):
                return None
        return True

    def unavailable_reason(self, action: str) -> str | None:
        """Why the dimmed binding of ``action`` does nothing now (shown when its key is pressed)."""
        if action.startswith("ext(") and action.endswith(")"):
            ext = extensions.get_action(action[4:-1].strip("'\""))
            if ext is not None and ext.unavailable:
                return ext.unavailable
        return None

    async def action_ext(self, name: str) -> None:
        ext = extensions.get_action(name)
        if ext is None or self.check_action("ext", (name,)) is not True:
            return
        result = ext.run(self)
        if inspect.isawaitable(result):
            await result

    def own_commands(self) -> list[PaletteCommand]:
        """Commands of this screen; subclasses add theirs."""
        return []

    def palette_commands(self) -> list[PaletteCommand]:
        commands = self.own_commands()
        for ext in extensions.actions_for(self.SCREEN_NAME):
            if self.check_action("ext", (ext.name,)) is True:
                commands.append(PaletteCommand(ext.description, ext.help,
                                               partial(self.run_action, f"ext('{ext.name}')")))
        return commands

"""The command palette: commands of the screen it was opened on, plus app-wide ones."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from cachetui.tui.screens.base import ExtensibleScreen, PaletteCommand


class ScreenCommands(Provider):
    """Asks the current screen (``palette_commands()``) what fits now."""

    def commands(self) -> list[PaletteCommand]:
        screen = self.screen
        out = screen.palette_commands() if isinstance(screen, ExtensibleScreen) else []
        app = self.app
        out.append(PaletteCommand("Show keys", "Every key of this screen",
                                  partial(app.run_action, "help")))
        return out

    async def discover(self) -> Hits:
        for command in self.commands():
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run, help=command.help)

"""The ``?`` screen: every binding of the screen it was opened from."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from cachetui.tui.keymap import group_name, help_rank, identify, ours

HelpRow = tuple[str, str, bool, str]
"""(keys, description, enabled now, group)."""


def bindings_of(screen: object) -> list[HelpRow]:
    """Keys of a screen as the help screen lists them (app and focused widget included), in the
    order a user works (:data:`cachetui.tui.keymap.GROUPS`); Textual's generic widget keys
    (page left, copy selected text) are left out: they have no cachetui id."""
    rows: dict[str, tuple[list[str], bool, str]] = {}
    active = getattr(screen, "active_bindings", {})
    app = getattr(screen, "app", None)
    for key, active_binding in active.items():
        binding = active_binding.binding
        if not ours(binding):
            continue
        description = binding.description or binding.action.replace("_", " ")
        display = app.get_key_display(binding) if app is not None else key
        keys, _, _ = rows.setdefault(description, ([], active_binding.enabled, binding.action))
        if display not in keys:
            keys.append(display)
    ordered = sorted(rows.items(), key=lambda item: help_rank(item[1][2]))
    return [(", ".join(keys), description, enabled, group_name(action))
            for description, (keys, enabled, action) in ordered]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = identify(
        "help", [Binding("escape,question_mark,q", "dismiss", "Close")])

    def __init__(self, title: str, rows: list[HelpRow]) -> None:
        super().__init__()
        self.title_text = title
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, padding=(0, 2), show_header=True, header_style="bold")
        table.add_column("Key", style="bold cyan", no_wrap=True)
        table.add_column("Action")
        group = None
        for keys, description, enabled, row_group in self.rows:
            if row_group != group:
                group = row_group
                table.add_row(Text(group, style="bold"), "")
            table.add_row(f"  {keys}", Text(description, style="" if enabled else "dim"))
        with VerticalScroll(id="help-box"):
            yield Static(Text(f"Keys: {self.title_text}", style="bold"), id="help-title")
            yield Static(table, id="help-table")
            yield Static(Text("Dimmed keys are not available right now. esc closes.",
                              style="dim italic"))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)

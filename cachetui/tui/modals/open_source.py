"""Ask for a source to add: a directory, DIR:TAG, HOST or HOST/REPO, or a buildx cache spec."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from cachetui.errors import CachetuiError
from cachetui.locations import parse_location
from cachetui.tui.keymap import identify


class OpenSource(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = identify("open", [Binding("escape", "cancel", "Cancel")])

    def compose(self) -> ComposeResult:
        with Vertical(id="open-source", classes="dialog"):
            yield Label("Open a source", classes="dialog-title")
            yield Input(placeholder="./cache  ghcr.io/org/app  localhost:5000  type=local,src=…",
                        id="open-source-input")
            yield Label("", id="open-source-error", classes="dialog-error")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        try:
            parse_location(text)
        except CachetuiError as exc:
            self.query_one("#open-source-error", Label).update(str(exc))
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)

"""A footer that never cuts a key in half: it goes compact, then drops the least needed keys.

Textual's footer lays every shown binding in one row and cuts what does not fit, so at 80 columns
`? Help` (the key that lists all the others) was the one lost. Here help is always kept, and the
keys a user needs least in the footer (they stay in help and the palette) leave first.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

DROP_FIRST = ("space", "shares", "cancel_job", "quit", "refresh", "compare", "filter",
              "cursor_down", "cursor_up")
"""Actions whose keys leave the footer first when it is too narrow (last in this list: last)."""
KEEP = ("help",)
PALETTE_WIDTH = 14
"""Room the command palette key takes at the right."""


def _action_name(action: str) -> str:
    return action.rsplit(".", 1)[-1].split("(", 1)[0]


def key_width(display: str, description: str, compact: bool) -> int:
    """Cells a footer key takes (Textual pads the key by one on both sides unless compact)."""
    return len(display) + len(description) + (2 if compact else 3)


def choose(keys: list[tuple[str, str, str]], width: int) -> tuple[list[int], bool]:
    """Indices of the (action, display, description) keys to show in ``width``, and compactness."""
    for compact in (False, True):
        if sum(key_width(d, t, compact) for _, d, t in keys) <= width:
            return list(range(len(keys))), compact
    shown = list(range(len(keys)))
    ranked = sorted(
        (i for i in shown if _action_name(keys[i][0]) not in KEEP),
        key=lambda i: (DROP_FIRST.index(_action_name(keys[i][0]))
                       if _action_name(keys[i][0]) in DROP_FIRST else len(DROP_FIRST), -i))
    for index in ranked:
        if sum(key_width(keys[i][1], keys[i][2], True) for i in shown) <= width:
            break
        shown.remove(index)
    return shown, True


class FittingFooter(Footer):
    """:class:`Footer` with every key whole at any width."""

    def __init__(self) -> None:
        super().__init__()
        self._fitted_width = 0

    def on_resize(self) -> None:
        if self.size.width != self._fitted_width:
            self._fitted_width = self.size.width
            self.refresh(recompose=True)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        active = self.screen.active_bindings
        by_action: dict[str, tuple[Binding, bool, str]] = {}
        for _, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in by_action:
                by_action[binding.action] = (binding, enabled, tooltip)
        entries = list(by_action.values())
        keys = [(b.action, self.app.get_key_display(b), b.description) for b, _, _ in entries]
        width = (self.size.width or self.app.size.width) - PALETTE_WIDTH
        shown, compact = choose(keys, width)
        self.compact = compact
        self.styles.grid_size_columns = len(shown)
        for index in shown:
            binding, enabled, tooltip = entries[index]
            yield FooterKey(binding.key, keys[index][1], binding.description, binding.action,
                            disabled=not enabled, tooltip=tooltip).data_bind(compact=Footer.compact)
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            try:
                _node, binding, enabled, tooltip = active[self.app.COMMAND_PALETTE_BINDING]
            except KeyError:
                return
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description,
                            binding.action, classes="-command-palette", disabled=not enabled,
                            tooltip=binding.tooltip or binding.description)

"""Every key binding has an id and a description; users remap them by id in the config file.

    [keymap]
    "main.mark" = "m"            # one key, or several: "m,space"
    "ext.prune.plan" = "delete"

Ids are ``AREA.ACTION`` (``main.mark``, ``table.cursor_down``, ``app.quit``; extension actions are
``ext.NAME``). ``?`` lists the keys of a screen grouped and ordered by what a user does: move,
look, mark, act, then the app itself, with Textual's generic widget keys left out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from textual.binding import Binding, BindingType

GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Move", ("cursor_down", "cursor_up", "down", "up", "scroll_down", "scroll_up", "scroll_top",
              "scroll_bottom", "scroll_home", "scroll_end", "page_up", "page_down",
              "focus_next", "tab", "next_tab")),
    ("Look", ("select_cursor", "back", "filter", "clear_filter", "sort", "compare", "measure",
              "copy_digest", "copy_cache_from", "open_source", "source_view", "refresh",
              "space", "shares")),
    ("Mark", ("mark", "mark_range", "mark_all", "clear_marks")),
    ("Act", ("ext", "cancel_job", "cancel", "dismiss")),
    ("App", ("help", "command_palette", "quit")),
)
"""Help order: the order a user works in. Actions not listed follow in their group 'Other'."""


def action_stem(action: str) -> str:
    """``sort('size')`` → ``sort``; ``app.focus_next`` → ``focus_next``."""
    return action.split("(", 1)[0].rsplit(".", 1)[-1]


def binding_id(area: str, action: str) -> str:
    stem = action.split(".", 1)[-1] if action.startswith(("app.", "screen.")) else action
    stem = stem.replace("('", ".").replace("')", "").replace("(", ".").replace(")", "")
    return f"{area}.{stem}"


def identify(area: str, bindings: Iterable[BindingType]) -> list[BindingType]:
    """``bindings`` with an id (``AREA.ACTION``) on every one that has none."""
    out: list[BindingType] = []
    for binding in bindings:
        if isinstance(binding, tuple):
            binding = Binding(*binding)
        if isinstance(binding, Binding) and binding.id is None:
            binding = dataclasses.replace(binding, id=binding_id(area, binding.action))
        out.append(binding)
    return out


def help_rank(action: str) -> tuple[int, int]:
    """Where a binding's action sorts in help: (group, position in the group)."""
    stem = action_stem(action)
    for group_index, (_, actions) in enumerate(GROUPS):
        if stem in actions:
            return group_index, actions.index(stem)
    return len(GROUPS), 0


def group_name(action: str) -> str:
    group, _ = help_rank(action)
    return GROUPS[group][0] if group < len(GROUPS) else "Other"


def ours(binding: Binding) -> bool:
    """A binding cachetui defines (it has an id), or the command palette's."""
    return binding.id is not None or action_stem(binding.action) == "command_palette"

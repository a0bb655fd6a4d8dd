"""Keep a dialog's buttons on screen: its scrolling body gets whatever height the rest leaves.

Textual clamps an auto-height dialog to its ``max-height`` by squeezing the children at the end, so
a long plan used to shrink Cancel and Delete to one row without labels. Giving the body an explicit
``max-height`` (the screen's share minus everything else in the dialog) keeps every control whole.
"""

from __future__ import annotations

from textual.widget import Widget

SCREEN_SHARE = 0.9
"""The part of the screen's height a dialog may take."""
MIN_BODY = 3


def fit_body(dialog: Widget, body: Widget, screen_height: int) -> None:
    """Cap ``body`` (a direct child of ``dialog``) so the whole dialog fits ``screen_height``."""
    others = sum(child.outer_size.height + child.styles.margin.height
                 for child in dialog.children if child is not body and child.display)
    others += body.styles.margin.height
    chrome = dialog.styles.gutter.height  # border and padding
    limit = max(MIN_BODY, int(screen_height * SCREEN_SHARE) - others - chrome)
    if body.styles.max_height is None or body.styles.max_height.value != limit:
        body.styles.max_height = limit

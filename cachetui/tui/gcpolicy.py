"""The garbage collector in the UI: short pauses while sources fill the table.

Every listed cache keeps its parsed manifest and config (a million small objects for 3,000
caches). A full collection walks all of them, a pause of a tenth of a second or more, and while
the heap grows it comes again each time the heap is a quarter bigger: the table froze again and
again while a registry filled (``bench/bench_scale.py`` measures the worst pause). The app
already freezes what exists once it is up (``CachetuiApp.on_mount``, undone at exit); while
sources load, what they loaded is frozen the same way every :data:`FREEZE_EVERY` caches and when
a source is done, after a young collection so that fresh garbage is freed rather than frozen.
What little garbage is frozen is freed after exit, as with the app's own freeze.
"""

from __future__ import annotations

import gc
from typing import Final

UI_THRESHOLD: Final = (700, 10, 10)
"""CPython's default: young collections stay small and short (the CLI paces them slower)."""
FREEZE_EVERY: Final = 64
"""Loaded caches between freezes while sources load. A full collection walks what was loaded
since the last freeze: every 256 caches, that was still a 70 ms pause (CPU) while 3,000 caches
filled; every 64, no full collection came at all (``bench/bench_scale.py``), and the freeze
itself (a young collection) costs a few milliseconds."""


def for_ui() -> None:
    gc.set_threshold(*UI_THRESHOLD)


def freeze_loaded() -> None:
    """Collect the young generations (a few thousand objects at most), then freeze the rest."""
    gc.collect(1)
    gc.freeze()

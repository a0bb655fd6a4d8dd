"""cachetui: see inside, copy, prune and re-export BuildKit build caches.

Importing the package loads nothing heavy; the TUI lives in :mod:`cachetui.tui` and is only
imported when it is opened.
"""

__version__ = "0.1.0"

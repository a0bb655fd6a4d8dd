"""``python -m cachetui`` runs the same entry point as the ``cachetui`` script."""

from cachetui.entry import entry

entry()

"""``cachetui touch LOCATION``: see :mod:`cachetui.cli.objects_cmd`."""

from __future__ import annotations

from cachetui.cli.objects_cmd import configure_touch as configure

__all__ = ["configure"]

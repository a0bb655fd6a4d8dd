"""Where caches are: what a user typed or configured, as a typed :class:`Location`, and the
:class:`Workspace` that opens stores from locations.

- :mod:`.location`: the ``Location`` type, its kind vocabulary, identity, display text and
  ``--cache-from`` spec.
- :mod:`.buildx`: buildx cache specs (``type=...``) with every attribute of each type.
- :mod:`.parse`: sources and destinations as typed (directories, ``DIR:TAG``, ``HOST``,
  ``HOST/REPO[:TAG|@digest]``, specs).
- :mod:`.openers`: kind → the function that opens its store.
- :mod:`.workspace`: settings, credentials, sessions, read-only rules; opening, catalog and
  directory expansion, destinations.

Adding a backend (say ``type=s3``): the kind is already in :data:`.location.LocationKind` and its
attributes in :data:`.buildx.ATTRIBUTES`; write its store module under ``cachetui/store/`` (it
implements :class:`cachetui.store.base.Store` and the capabilities it has, honouring
``read_only``), add one opener function and one entry to :data:`.openers.OPENERS`, and a factory
to ``tests/contract/`` so the store contract suite runs on it.
"""

from cachetui.locations.location import KINDS, Location, LocationKind
from cachetui.locations.parse import parse_destination, parse_location
from cachetui.locations.workspace import Expansion, SourceRequest, Target, Workspace

__all__ = ["KINDS", "Expansion", "Location", "LocationKind", "SourceRequest", "Target",
           "Workspace", "parse_destination", "parse_location"]

"""Destinations of the TUI's copy and re-export: checks as the user types, completions, opening.

Textual-free. What a destination text names is :func:`cachetui.endpoints.parse_destination`, the
same parser the CLI uses; on top of it the TUI refuses what would surely fail or surprise:

- a read-only source (``read_only`` in the config, for the source or its registry host) as the
  destination. The rule for ``--read-only`` itself is simpler: every writing action (copy,
  re-export, prune) is hidden, whatever the destination;
- copying a cache onto itself (same store, same tag);
- naming one tag for several caches (copies of several caches keep their tag names).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from cachetui.config import Config
from cachetui.endpoints import DestinationSpec, parse_destination
from cachetui.errors import InvalidInput
from cachetui.store.base import Store
from cachetui.store.layout import LayoutStore
from cachetui.tui.model import SourceState
from cachetui.tui.opening import RegistryAccess


def location_key(location: str) -> str:
    """Comparable form of a store location: directories as absolute paths, registries as is."""
    if os.path.isabs(location) or location.startswith((".", "~")) or os.path.isdir(location):
        return os.path.abspath(os.path.expanduser(location))
    return location


def spec_location(spec: DestinationSpec) -> str:
    """The location the store opened for ``spec`` will have (its source id in the TUI)."""
    if spec.kind == "directory":
        assert spec.path is not None
        return str(spec.path)
    assert spec.ref is not None
    return f"{spec.ref.api_host}/{spec.ref.repository}"


@dataclass(frozen=True, slots=True)
class DestinationRules:
    """What the destination of one copy or re-export may be."""

    sources: tuple[tuple[str, str], ...]
    """(store location, tag) of each cache being copied."""
    read_only: frozenset[str] = frozenset()
    """Locations (see :func:`location_key`) of read-only sources."""
    read_only_hosts: frozenset[str] = frozenset()
    single_tag: bool = False
    """Re-export: the destination gets one tag (the default is given by the dialog)."""
    default_tag: str | None = field(default=None)

    def check(self, text: str) -> DestinationSpec:
        """The parsed destination, or a one-line :class:`InvalidInput` saying what is wrong."""
        spec = parse_destination(text.strip())
        location = spec_location(spec)
        key = location_key(location)
        if key in self.read_only or (spec.ref is not None and
                                     spec.ref.registry in self.read_only_hosts):
            raise InvalidInput(f"{location} is a read-only source")
        if spec.tag is not None and len(self.sources) > 1:
            raise InvalidInput(f"copies of {len(self.sources)} caches keep their tag names; "
                               "do not name a tag")
        for source_location, tag in self.sources:
            target_tag = spec.tag or self.default_tag or tag
            if location_key(source_location) == key and target_tag == tag:
                raise InvalidInput(f"{location}:{tag} is the source itself; name another tag "
                                   "(DIR:TAG, HOST/REPO:TAG)")
        return spec


def rules_for(sources: Iterable[tuple[str, str]], states: Iterable[SourceState],
              config: Config, *, default_tag: str | None = None) -> DestinationRules:
    read_only = frozenset(location_key(state.id) for state in states if state.read_only)
    hosts = frozenset(host for host, settings in config.registries.items() if settings.read_only)
    return DestinationRules(tuple(sources), read_only, hosts, default_tag=default_tag)


def known_destinations(states: Iterable[SourceState], config: Config) -> list[str]:
    """Completions: the sources open in the app, then the config's sources and registry hosts."""
    out: list[str] = []
    for state in states:
        if state.kind == "directory":
            out.append(state.id if state.id.startswith(("/", ".", "~")) else f"./{state.id}")
        elif state.kind == "registry":
            out.append(state.id)
    out.extend(entry.source for entry in config.sources)
    out.extend(f"{host}/" for host in config.registries)
    return list(dict.fromkeys(out))


def open_destination(spec: DestinationSpec, registry: RegistryAccess) -> Store:
    """A store to write to; a directory that does not exist yet is created on the first write."""
    if spec.kind == "directory":
        assert spec.path is not None
        return LayoutStore(spec.path, create=True)
    assert spec.ref is not None
    return registry.repository(spec.ref)
